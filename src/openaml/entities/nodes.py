"""What makes a job a pipeline node: port access, ``${{parent...}}`` bindings, the DSL builder.

A node keeps its ``inputs``/``outputs`` as plain values, the same after a YAML load and after a
``@dsl.pipeline`` build: a literal, an :class:`Input`/:class:`Output`, or a binding *string*
(``"${{parent.inputs.lr}}"``, ``"${{parent.jobs.train.outputs.model}}"``, ``"${{parent.outputs.m}}"``).
:func:`parse_binding` reads such a string back into a :class:`Binding`.

``node.outputs.model`` / ``node.inputs.lr`` (attribute access) return :class:`NodeOutput` /
:class:`NodeInput` views for the DSL; passing one to another node's input writes the binding
string. While a ``@dsl.pipeline`` function runs, a :class:`PipelineBuilder` in a context variable
collects the nodes created; the DSL names them when the function returns (see ``openaml.dsl``).
"""

from __future__ import annotations

import contextvars
import itertools
import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from openaml.errors import ValidationError

from .inputs_outputs import Input, Output

_PARENT_PORT = re.compile(r"^\$\{\{\s*parent\.(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_STEP_PORT = re.compile(
    r"^\$\{\{\s*parent\.jobs\.([A-Za-z0-9_\-]+)\.(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_ANY_PARENT = re.compile(r"\$\{\{\s*parent\.")


@dataclass(frozen=True)
class Binding:
    """One ``${{parent...}}`` expression.

    ``step`` is None for the pipeline's own ports (``${{parent.inputs.x}}``,
    ``${{parent.outputs.o}}``) and the upstream step's name for ``${{parent.jobs.<step>...}}``;
    ``direction`` is ``"inputs"`` or ``"outputs"``, ``port`` the port's name.
    """

    direction: Literal["inputs", "outputs"]
    port: str
    step: str | None = None

    def __str__(self) -> str:
        middle = f"jobs.{self.step}.{self.direction}" if self.step else self.direction
        return "${{parent." + middle + "." + self.port + "}}"


def parse_binding(value: Any) -> Binding | None:
    """The :class:`Binding` when ``value`` is a string that is exactly one ``${{parent...}}``
    expression (``parent.inputs.x``, ``parent.outputs.o``, ``parent.jobs.<s>.outputs.<o>``,
    ``parent.jobs.<s>.inputs.<i>``); None for anything else."""
    if not isinstance(value, str):
        return None
    m = _PARENT_PORT.match(value.strip())
    if m:
        return Binding(m.group(1), m.group(2))  # type: ignore[arg-type]
    m = _STEP_PORT.match(value.strip())
    if m:
        return Binding(m.group(2), m.group(3), m.group(1))  # type: ignore[arg-type]
    return None


def looks_like_binding(value: Any) -> bool:
    """True for a string that mentions ``${{parent.`` (well-formed or not)."""
    return isinstance(value, str) and bool(_ANY_PARENT.search(value))


def port_binding(value: Any) -> Binding | None:
    """The binding of a node port value: a binding string, or an Input/Output whose ``path`` is one."""
    if isinstance(value, (Input, Output)):
        return parse_binding(value.path)
    return parse_binding(value)


def check_port_value(direction: str, name: str, value: Any) -> Any:
    """Raise ValueError for a malformed ``${{parent...}}`` string in a node port value."""
    text = value.path if isinstance(value, (Input, Output)) else value
    if looks_like_binding(text) and parse_binding(text) is None:
        raise ValueError(f"{direction}.{name}: invalid binding {text!r}; expected "
                         "${{parent.inputs.<name>}}, ${{parent.outputs.<name>}} or "
                         "${{parent.jobs.<step>.outputs|inputs.<name>}}")
    return value


# ---------------------------------------------------------------------------------------------
# Attribute access to ports: node.outputs.model, node.inputs.lr, pipeline_job.outputs.model


class PortDict(dict):  # type: ignore[type-arg]
    """A node's ``inputs``/``outputs`` dict that also answers attribute access.

    On a node (``owner`` set) ``ports.x`` returns a :class:`NodeInput`/:class:`NodeOutput` view;
    on a pipeline job it returns the stored value. Copies are plain data (the owner is rebound by
    the node that holds the copy).
    """

    def __init__(self, data: Mapping[str, Any] = (), *, owner: Any = None,  # type: ignore[assignment]
                 direction: str = "inputs") -> None:
        super().__init__(data)
        self._owner = owner
        self._direction = direction

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        owner = self.__dict__.get("_owner")
        if owner is None:
            try:
                return self[name]
            except KeyError:
                raise AttributeError(f"no {self.__dict__.get('_direction', 'port')} named {name!r}") from None
        declared = declared_ports(owner, self._direction)
        if declared is not None and name not in declared and name not in self:
            raise AttributeError(
                f"{node_label(owner)} has no {self._direction[:-1]} {name!r}; it has: "
                f"{', '.join(declared) or '(none)'}")
        view = NodeOutput if self._direction == "outputs" else NodeInput
        return view(owner, name)

    def __deepcopy__(self, memo: dict[int, Any]) -> "PortDict":
        import copy

        return PortDict({k: copy.deepcopy(v, memo) for k, v in self.items()},
                        direction=self._direction)

    def __copy__(self) -> "PortDict":
        return PortDict(self, direction=self._direction)

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


def stored_component(node: Any) -> Any:
    """The component a node holds: a component, a reference string, or None for a plain command.

    ``Command.component`` reads differently for a plain command (the component it describes, as
    azure-ai-ml's); code that must tell the two forms apart reads this instead."""
    fields = getattr(node, "__dict__", None)
    return fields.get("component") if isinstance(fields, dict) else getattr(node, "component", None)


def declared_ports(node: Any, direction: str) -> dict[str, Any] | None:
    """The ports a node's component declares (None when the component is only a reference, or
    the node is a plain command whose own ports are all it has)."""
    component = stored_component(node)
    ports = getattr(component, direction, None)
    return ports if isinstance(ports, dict) else None


def node_label(node: Any) -> str:
    """``node 'train'`` or ``node of component 'train_model'`` for messages."""
    if getattr(node, "name", None):
        return f"node {node.name!r}"
    component = stored_component(node)
    cname = getattr(component, "name", None) or (component if isinstance(component, str) else None)
    return f"node of component {cname!r}" if cname else "node"


class NodeOutput:
    """``node.outputs.<name>``: set ``mode``/``type``/``path``/``name``/``version`` on the node's
    output, or pass it to another node's input to bind ``${{parent.jobs.<node>.outputs.<name>}}``."""

    _FIELDS = ("type", "mode", "path", "name", "version", "description", "datastore")

    def __init__(self, node: Any, port: str) -> None:
        object.__setattr__(self, "_node", node)
        object.__setattr__(self, "_port", port)

    def _config(self) -> Output | str | None:
        return self._node.outputs.get(self._port)

    def _declared_type(self) -> str | None:
        declared = (declared_ports(self._node, "outputs") or {}).get(self._port)
        return getattr(declared, "type", None)

    def __getattr__(self, name: str) -> Any:
        if name not in NodeOutput._FIELDS:
            raise AttributeError(name)
        config = self._config()
        if isinstance(config, Output):
            return getattr(config, name)
        return self._declared_type() if name == "type" else None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in NodeOutput._FIELDS:
            raise AttributeError(f"an output has no attribute {name!r}")
        config = self._config()
        if isinstance(config, str):
            raise ValidationError(
                f"{node_label(self._node)}: output {self._port!r} is bound to {config}; set "
                f"{name} on that pipeline output instead", field=f"outputs.{self._port}.{name}")
        base = config._to_dict() if isinstance(config, Output) else {}
        if "type" not in base and self._declared_type():
            base["type"] = self._declared_type()
        self._node.outputs[self._port] = Output(**{**base, name: value})

    def _to_binding(self) -> str:
        return str(Binding("outputs", self._port, _step_name(self._node)))

    def __repr__(self) -> str:
        return f"NodeOutput({node_label(self._node)}, {self._port!r})"


class NodeInput:
    """``node.inputs.<name>``: its ``value``, or pass it on to bind ``${{parent.jobs.<n>.inputs.<name>}}``."""

    def __init__(self, node: Any, port: str) -> None:
        self._node, self._port = node, port

    @property
    def value(self) -> Any:
        """The node's value for this input (a literal, an Input, a binding string or None)."""
        return self._node.inputs.get(self._port)

    def _to_binding(self) -> str:
        return str(Binding("inputs", self._port, _step_name(self._node)))

    def __repr__(self) -> str:
        return f"NodeInput({node_label(self._node)}, {self._port!r})"


class PipelineInput:
    """A ``@dsl.pipeline`` function's parameter while the function runs: passing it to a node
    binds ``${{parent.inputs.<name>}}``. ``value`` is what the caller passed (or the default)."""

    def __init__(self, name: str, value: Any = None) -> None:
        self.name, self.value = name, value

    def _to_binding(self) -> str:
        return str(Binding("inputs", self.name))

    def __repr__(self) -> str:
        return f"PipelineInput({self.name!r})"


def _step_name(node: Any) -> str:
    builder = current_builder()
    if builder is None or not builder.owns(node):
        raise ValidationError(f"{node_label(node)}: its ports can only be bound inside the "
                              "@dsl.pipeline function that created it", field="inputs")
    return builder.step_ref(node)


def to_port_value(value: Any) -> Any:
    """A DSL placeholder (pipeline input, node output/input) as its binding string; else ``value``."""
    to_binding = getattr(type(value), "_to_binding", None)
    return to_binding(value) if to_binding is not None else value


class NodePorts:
    """Behaviour shared by pipeline nodes (mixed into ``Command`` and ``Pipeline``).

    Keeps ``inputs``/``outputs`` as :class:`PortDict` bound to the node, registers a node created
    inside a ``@dsl.pipeline`` function with the active builder, and gives a default step name.
    """

    def model_post_init(self, context: Any, /) -> None:
        _bind_ports(self)
        builder = current_builder()
        if builder is not None:
            builder.add(self)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)  # type: ignore[misc]
        if name in ("inputs", "outputs", "component"):
            _bind_ports(self)

    def __copy__(self) -> Any:
        copied = super().__copy__()  # type: ignore[misc]
        _bind_ports(copied)
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Any:
        copied = super().__deepcopy__(memo)  # type: ignore[misc]
        _bind_ports(copied)
        return copied

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Any:
        copied = super().model_copy(update=update, deep=deep)  # type: ignore[misc]
        _bind_ports(copied)
        return copied

    def default_node_name(self) -> str:
        """The name a DSL gives this node: its component's name (or the node type)."""
        component = stored_component(self)
        if getattr(component, "name", None):
            return str(component.name)
        if isinstance(component, str):
            ref = component.removeprefix("azureml:").split("@")[0].split(":")[0]
            ref = re.sub(r"[^A-Za-z0-9_]", "_", ref.rsplit("/", 1)[-1].removesuffix(".yml")
                         .removesuffix(".yaml"))
            if ref:
                return ref
        return str(getattr(self, "type", "node"))


def _bind_ports(node: Any) -> None:
    for direction in ("inputs", "outputs"):
        ports = node.__dict__.get(direction)
        if isinstance(ports, dict) and not (isinstance(ports, PortDict)
                                            and ports.__dict__.get("_owner") is node):
            node.__dict__[direction] = PortDict(ports, owner=node, direction=direction)


def bind_pipeline_ports(job: Any) -> None:
    """Give a pipeline job/component attribute access to its own inputs/outputs values."""
    for direction in ("inputs", "outputs"):
        ports = job.__dict__.get(direction)
        if isinstance(ports, dict) and not isinstance(ports, PortDict):
            job.__dict__[direction] = PortDict(ports, direction=direction)


# ---------------------------------------------------------------------------------------------
# The DSL builder: which nodes a running @dsl.pipeline function created, and their names


class PipelineBuilder:
    """Collects the nodes created while one ``@dsl.pipeline`` function runs.

    Nodes are not named while the function runs (``node.name`` stays what the user set, None by
    default): a binding to a node's port is written with a placeholder step
    (:meth:`step_ref`), and :meth:`finish` gives every node its final name and rewrites the
    placeholders to it.
    """

    _serial = itertools.count()

    def __init__(self, pipeline_name: str) -> None:
        self.pipeline_name = pipeline_name
        self._nodes: list[Any] = []
        self._refs: dict[int, str] = {}

    @property
    def nodes(self) -> list[Any]:
        """The nodes created so far, in creation order."""
        return list(self._nodes)

    def owns(self, node: Any) -> bool:
        """True if ``node`` was created by this builder's function."""
        return id(node) in self._refs and any(n is node for n in self._nodes)

    def add(self, node: Any) -> None:
        """Register ``node`` (once)."""
        if self.owns(node):
            return
        self._nodes.append(node)
        self._refs[id(node)] = f"_pending_node_{next(PipelineBuilder._serial)}"

    def discard_template(self, node: Any) -> None:
        """Forget ``node`` if nothing binds to it yet: a node made in the function only to be
        called (``step = command(...); a = step(x=1)``) is a template, not a step."""
        if not self.owns(node):
            return
        ref = self._refs[id(node)]
        for other in self._nodes:
            for value in (getattr(other, "inputs", None) or {}).values():
                binding = port_binding(value)
                if binding is not None and binding.step == ref:
                    return
        self._nodes = [n for n in self._nodes if n is not node]
        del self._refs[id(node)]

    def step_ref(self, node: Any) -> str:
        """The placeholder step name that bindings to ``node`` use until :meth:`finish`."""
        return self._refs[id(node)]

    def finish(self, names: Sequence[str]) -> dict[str, Any]:
        """Name the nodes (``names[i]`` for the i-th node created) and return them by name;
        bindings between them are rewritten to the final names. Two equal names raise."""
        if len(names) != len(self._nodes):
            raise ValueError("one name per node is needed")
        jobs: dict[str, Any] = {}
        for node, name in zip(self._nodes, names):
            if not name:
                raise ValidationError(f"a node of pipeline {self.pipeline_name!r} has no name",
                                      field="jobs")
            if name in jobs:
                raise ValidationError(f"pipeline {self.pipeline_name!r} has two nodes named "
                                      f"{name!r}; give them different names", field="jobs")
            jobs[name] = node
        renames = {self._refs[id(node)]: name for node, name in zip(self._nodes, names)}
        for node, name in zip(self._nodes, names):
            node.name = name
            _rename_steps(node, renames)
        return jobs


def _rename_steps(node: Any, renames: Mapping[str, str]) -> None:
    for name, value in list(node.inputs.items()):
        binding = port_binding(value)
        if binding is None or binding.step not in renames:
            continue
        text = str(Binding(binding.direction, binding.port, renames[binding.step]))
        node.inputs[name] = value.model_copy(update={"path": text}) if isinstance(value, Input) else text


_BUILDER: contextvars.ContextVar[PipelineBuilder | None] = contextvars.ContextVar(
    "openaml_pipeline_builder", default=None)


def current_builder() -> PipelineBuilder | None:
    """The builder of the ``@dsl.pipeline`` function running in this context, if any."""
    return _BUILDER.get()


def push_builder(builder: PipelineBuilder) -> contextvars.Token[PipelineBuilder | None]:
    """Make ``builder`` current; pass the token to :func:`pop_builder`."""
    return _BUILDER.set(builder)


def pop_builder(token: contextvars.Token[PipelineBuilder | None]) -> None:
    """Restore the builder that was current before :func:`push_builder`."""
    _BUILDER.reset(token)


# ---------------------------------------------------------------------------------------------
# Calling a component


def node_inputs(component: Any, kwargs: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Check and convert the keyword arguments of a component call into node input values.

    Unknown names raise ValidationError naming the component and the input; literals are checked
    against the declared type, ``min``/``max`` and ``enum``.
    """
    declared: Mapping[str, Input] = component.inputs or {}
    values: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name not in declared:
            from difflib import get_close_matches

            close = get_close_matches(name, list(declared), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValidationError(
                f"{label}: component {component.name!r} has no input {name!r}; its inputs are: "
                f"{', '.join(declared) or '(none)'}.{hint}", field=f"inputs.{name}")
        if value is None:
            continue
        value = to_port_value(value)
        problem = literal_problem(declared[name], value)
        if problem:
            raise ValidationError(f"{label}: input {name!r}: {problem}", field=f"inputs.{name}")
        values[name] = value
    return values


def literal_problem(port: Input, value: Any) -> str | None:
    """Why ``value`` cannot feed the primitive ``port`` (type, min/max, enum), or None."""
    if not isinstance(port, Input) or not port.is_primitive or isinstance(value, Input):
        return None
    if not isinstance(value, (bool, int, float, str)) or parse_binding(value) is not None:
        return None
    expected = {"integer": (int,), "number": (int, float), "boolean": (bool,),
                "string": (str, int, float, bool)}[port.type]
    if not isinstance(value, expected) or (isinstance(value, bool) and port.type in ("integer", "number")):
        return f"{value!r} is not a valid {port.type}"
    if port.min is not None and value < port.min:
        return f"{value!r} is less than min {port.min!r}"
    if port.max is not None and value > port.max:
        return f"{value!r} is greater than max {port.max!r}"
    if port.enum is not None and str(value) not in port.enum:
        return f"{value!r} is not one of {port.enum!r}"
    return None


def command_job_of(node: Any) -> Any:
    """The runnable :class:`~openaml.entities.job.Command` of a command node (see ``to_command_job``).

    A component given as a string (``azureml:train:1``, a file path) must be resolved first;
    binding strings in the node's ports are kept (the pipeline service substitutes them).
    """
    from .job import Command

    component = stored_component(node)
    if component is None:
        return node.model_copy(deep=True)
    if isinstance(component, str):
        raise ValidationError(f"{node_label(node)}: component {component!r} must be loaded or "
                              "fetched from the registry before the node can run", field="component")
    inputs = {name: node.inputs[name] if name in node.inputs else _unset_input(port)
              for name, port in component.inputs.items()}
    inputs.update((k, v) for k, v in node.inputs.items() if k not in inputs)
    outputs = {name: node.outputs.get(name) or port.model_copy()
               for name, port in component.outputs.items()}
    resources = {**(component.resources._to_dict() if component.resources else {}),
                 **(node.resources._to_dict() if node.resources else {})}
    keep = {k: getattr(node, k) for k in (
        "name", "display_name", "description", "tags", "properties", "experiment_name", "compute",
        "environment_variables", "limits", "identity", "queue_settings", "services",
        "parent_job_name")}
    return Command(**keep, inputs=inputs, outputs=outputs, command=component.command,
                   code=component.code, environment=component.environment,
                   distribution=node.distribution or component.distribution,
                   resources=resources or None,
                   is_deterministic=component.is_deterministic and node.is_deterministic)


def _unset_input(port: Input) -> Any:
    """A component input the node does not set: its default, else its declaration."""
    if port.is_primitive and port.default is not None:
        return port.default
    return port.model_copy()


def adopt_node(node: Any) -> Any:
    """Bind a node made by copying (``model_copy``) and register it with the running DSL builder.

    ``Command.__call__`` and similar copies should return ``adopt_node(copy)``.
    """
    _bind_ports(node)
    builder = current_builder()
    if builder is not None:
        builder.add(node)
    return node

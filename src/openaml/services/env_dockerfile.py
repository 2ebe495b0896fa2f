"""Simple Dockerfiles as venv specs: FROM python:* or an AzureML base image, RUN pip install,
COPY/ADD of requirement files, ENV, ARG and WORKDIR translate; anything else raises
:class:`Untranslatable` naming the instructions that need Docker."""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from pathlib import Path

from openaml.services import curated
from openaml.services.env_requirements import (INDEX_OPTIONS, Translation, canonical,
                                               normalise_requirement, pip_line)

__all__ = ["Untranslatable", "translate_dockerfile"]


class Untranslatable(Exception):
    """A Dockerfile needs Docker; ``problems`` names each instruction that does."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


_DOCKER_IGNORED = frozenset({"LABEL", "EXPOSE", "USER", "CMD", "ENTRYPOINT", "STOPSIGNAL", "VOLUME",
                             "HEALTHCHECK", "MAINTAINER"})
_PIP_FLAGS = frozenset({"--no-cache-dir", "-U", "--upgrade", "-q", "-qq", "--quiet", "--user", "-v",
                        "--verbose", "--disable-pip-version-check", "--no-warn-script-location",
                        "--no-input", "--prefer-binary", "--no-compile", "--force-reinstall",
                        "--ignore-installed", "--break-system-packages"})
_PIP_FLAGS_WITH_VALUE = frozenset({"--progress-bar", "--root-user-action", "--timeout", "--retries"})
_PYTHON_IMAGES = ("python:", "library/python:", "docker.io/library/python:", "docker.io/python:")


def translate_dockerfile(text: str, context: Path, host_python: str) -> Translation:
    """A simple Dockerfile as a venv spec, or :class:`Untranslatable` naming what needs Docker."""
    return _DockerfileTranslator(context, host_python).translate(text)


class _DockerfileTranslator:
    """Walks the instructions: FROM python/AzureML, RUN pip install, COPY/ADD, ENV, ARG, WORKDIR."""

    def __init__(self, context: Path, host_python: str) -> None:
        self.context = context.resolve()
        self.host_python = host_python
        self.tr = Translation()
        self.problems: list[str] = []
        self.vars: dict[str, str] = {}
        self.copies: list[tuple[str, str]] = []   # (path in the image, path in the context)
        self.workdir = "/"
        self.froms = 0

    def translate(self, text: str) -> Translation:
        handlers = {"FROM": self._from, "RUN": self._run, "COPY": self._copy, "ADD": self._copy,
                    "ENV": self._env, "ARG": self._arg, "WORKDIR": self._workdir}
        for line_no, word, args in _instructions(text):
            if word in handlers:
                handlers[word](line_no, args)
            elif word not in _DOCKER_IGNORED:
                self.problems.append(f"line {line_no}: {word} {args}")
        if not self.froms:
            self.problems.append("no FROM instruction")
        if self.problems:
            raise Untranslatable(self.problems)
        return self.tr

    def _expand(self, text: str) -> str:
        return re.sub(r"\$(?:\{(\w+)\}|(\w+))",
                      lambda m: self.vars.get(m[1] or m[2], m[0]), text)

    def _from(self, line_no: int, args: str) -> None:
        tokens = [t for t in args.split() if not t.startswith("--")]
        image = self._expand(tokens[0]) if tokens else ""
        self.froms += 1
        lowered = image.lower()
        ref = curated.find_image(image)
        if self.froms > 1:
            self.problems.append(f"line {line_no}: FROM {args} (multi-stage builds need Docker)")
        elif lowered.startswith(_PYTHON_IMAGES) or lowered == "python":
            version = re.match(r"(\d+)\.(\d+)", lowered.partition(":")[2])
            if version and f"{version[1]}.{version[2]}" != self.host_python:
                self.tr.notes.append(f"FROM {image}: running on host Python {self.host_python}")
        elif ref is not None:
            self.tr.packages += [normalise_requirement(p) for p in ref.environment.packages]
            self.tr.notes.append(f"FROM {image}: curated {ref.environment.name} package list")
        elif lowered.startswith("mcr.microsoft.com/azureml/"):
            self.tr.notes.append(f"FROM {image}: base image noted; packages come from pip installs "
                                 f"on the host Python {self.host_python}")
        else:
            self.problems.append(f"line {line_no}: FROM {image} (only python:* and "
                                 f"mcr.microsoft.com/azureml/* base images translate to a venv)")

    def _run(self, line_no: int, args: str) -> None:
        try:
            segments = [json.loads(args)] if args.startswith("[") else _shell_segments(self._expand(args))
        except ValueError:
            segments = None
        if not segments or not all(self._pip_install(line_no, s) for s in segments):
            self.problems.append(f"line {line_no}: RUN {args}")

    def _pip_install(self, line_no: int, tokens: list[str]) -> bool:
        if tokens[:1] in (["pip"], ["pip3"]):
            rest = tokens[1:]
        elif len(tokens) > 2 and re.fullmatch(r"python(3(\.\d+)?)?", tokens[0]) and tokens[1:3] == ["-m", "pip"]:
            rest = tokens[3:]
        else:
            return False
        if rest[:1] != ["install"]:
            return False
        words = iter(rest[1:])
        for word in words:
            option, _, value = word.partition("=") if word.startswith("--") else (word, "", "")
            if option in ("-r", "--requirement"):
                self._requirements(line_no, value or next(words, ""))
            elif option in INDEX_OPTIONS:
                self.tr.index_args += [INDEX_OPTIONS[option], value or next(words, "")]
            elif option in _PIP_FLAGS_WITH_VALUE:
                _ = value or next(words, "")
            elif option in _PIP_FLAGS:
                continue
            elif word.startswith("-"):
                return False
            elif canonical(re.split(r"[\[=<>!~; ]", word)[0]) != "pip":  # `pip install -U pip`
                self.tr.packages.append(normalise_requirement(word))
        return True

    def _requirements(self, line_no: int, path: str) -> None:
        source = self._copied(path)
        if source is None:
            self.problems.append(f"line {line_no}: pip install -r {path} (the file was not COPY'd "
                                 f"from the build context)")
            return
        for line in source.read_text().splitlines():
            pip_line(line, self.tr, path)

    def _copied(self, path: str) -> Path | None:
        target = posixpath.normpath(posixpath.join(self.workdir, path))
        for dest, src in reversed(self.copies):
            if target == dest:
                candidate = src
            elif target.startswith(dest.rstrip("/") + "/"):
                candidate = posixpath.join(src, target[len(dest.rstrip("/")) + 1:])
            else:
                continue
            found = (self.context / candidate).resolve()
            if found.is_file() and found.is_relative_to(self.context):
                return found
        return None

    def _copy(self, line_no: int, args: str) -> None:
        try:
            tokens = json.loads(args) if args.startswith("[") else shlex.split(self._expand(args))
        except ValueError:
            tokens = []
        paths = [t for t in tokens if not t.startswith("--")]
        if len(paths) < 2 or any(t.startswith("--from") for t in tokens) or any("://" in p for p in paths):
            self.problems.append(f"line {line_no}: COPY/ADD {args}")
            return
        *sources, dest = paths
        dest = posixpath.normpath(posixpath.join(self.workdir, dest))
        for src in sources:
            src = posixpath.normpath(src)
            self.copies.append((dest, src))
            if not (self.context / src).is_dir():  # into a folder, or as the file itself
                self.copies.append((posixpath.join(dest, posixpath.basename(src)), src))

    def _env(self, line_no: int, args: str) -> None:
        first = args.split(None, 1)[0] if args.strip() else ""
        if "=" in first:
            pairs = [tok.partition("=")[::2] for tok in shlex.split(args)]
        else:
            pairs = [(first, args[len(first):].strip())]
        for name, value in pairs:
            value = self._expand(value)
            self.vars[name] = value
            if name == "PATH":
                self.tr.notes.append(f"line {line_no}: ENV PATH skipped (the venv's bin is put on PATH)")
            else:
                self.tr.env_vars[name] = value

    def _arg(self, line_no: int, args: str) -> None:
        name, _, default = args.strip().partition("=")
        self.vars.setdefault(name, default.strip("\"'"))

    def _workdir(self, line_no: int, args: str) -> None:
        self.workdir = posixpath.normpath(posixpath.join(self.workdir, self._expand(args.strip())))
        self.tr.notes.append(f"line {line_no}: WORKDIR noted; jobs run in their own working folder")


def _instructions(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) with continuations joined and comments dropped."""
    found: list[tuple[int, str, str]] = []
    buffer, start = "", 0
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # blank lines and comments, also inside continuations
        if not buffer:
            start = line_no
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        word, _, args = (buffer + line).partition(" ")
        found.append((start, word.upper(), args.strip()))
        buffer = ""
    if buffer.strip():
        word, _, args = buffer.strip().partition(" ")
        found.append((start, word.upper(), args.strip()))
    return found


def _shell_segments(command: str) -> list[list[str]] | None:
    """``a && b`` as token lists, or None when the command uses other shell syntax."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    for token in lexer:
        if token == "&&":
            segments.append([])
        elif token and set(token) <= set("();<>|&"):
            return None
        else:
            segments[-1].append(token)
    return segments if all(segments) else None

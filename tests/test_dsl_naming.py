"""@dsl.pipeline step names, as azure-ai-ml 1.35 names them.

Every expected name list below was checked against azure-ai-ml's own ``@dsl.pipeline`` with the
same function body (``list(job.jobs)``), except where a test says otherwise.
"""

import sys
from pathlib import Path

import pytest

from openaml import dsl, load_component
from openaml.entities import Input
from openaml.entities.pipeline import step_dependencies
from openaml.errors import ValidationError

THREE_STEP = Path(__file__).resolve().parent / "fixtures" / "yaml" / "pipelines" / "three_step"
RAW = Input(path="azureml:raw:1")


@pytest.fixture(scope="module")
def prep():
    return load_component(THREE_STEP / "prep.yml")  # component name: prep_data


@pytest.fixture(scope="module")
def train():
    return load_component(THREE_STEP / "train.yml")  # train_model


@pytest.fixture(scope="module")
def score():
    return load_component(THREE_STEP / "score.yml")  # score_model


def binding(job, step, port):
    return job.jobs[step].inputs[port]


def test_steps_are_named_after_local_variables(prep, train):
    @dsl.pipeline()
    def pipe(raw):
        prep_job = prep(raw_data=raw)
        train_job = train(training_data=prep_job.outputs.prep_data)  # noqa: F841

    job = pipe(raw=RAW)
    assert list(job.jobs) == ["prep_job", "train_job"]
    assert job.jobs["train_job"].name == "train_job"
    assert binding(job, "train_job", "training_data") == "${{parent.jobs.prep_job.outputs.prep_data}}"


def test_two_calls_of_one_component_in_two_variables(train):
    @dsl.pipeline()
    def pipe(raw):
        a = train(training_data=raw)
        b = train(training_data=a.outputs.model_output)  # noqa: F841

    job = pipe(raw=RAW)
    assert list(job.jobs) == ["a", "b"]
    assert binding(job, "b", "training_data") == "${{parent.jobs.a.outputs.model_output}}"


def test_a_node_in_two_variables_takes_the_last_one_in_source_order(prep, train):
    @dsl.pipeline()
    def pipe(raw):
        first = prep(raw_data=raw)
        second = first
        t = train(training_data=second.outputs.prep_data)  # noqa: F841

    @dsl.pipeline()
    def reverse(raw):
        zz = prep(raw_data=raw)
        aa = zz  # noqa: F841

    job = pipe(raw=RAW)
    assert list(job.jobs) == ["second", "t"]
    assert binding(job, "t", "training_data") == "${{parent.jobs.second.outputs.prep_data}}"
    assert list(reverse(raw=RAW).jobs) == ["aa"]


def test_nodes_never_assigned_are_named_after_their_component(prep, train, score):
    @dsl.pipeline()
    def pipe(raw):
        p = prep(raw_data=raw)
        train(training_data=p.outputs.prep_data)
        train(training_data=p.outputs.prep_data)
        score(model_input=raw, test_data=raw)

    job = pipe(raw=RAW)
    assert list(job.jobs) == ["p", "train_model", "train_model_1", "score_model"]
    assert binding(job, "train_model_1", "training_data") == "${{parent.jobs.p.outputs.prep_data}}"


def test_an_unassigned_node_borrows_the_variable_name_of_its_component(train):
    @dsl.pipeline()
    def after(raw):
        my_train = train(training_data=raw)  # noqa: F841
        train(training_data=raw)
        train(training_data=raw)

    @dsl.pipeline()
    def before(raw):
        train(training_data=raw)
        my_train = train(training_data=raw)  # noqa: F841

    @dsl.pipeline()
    def suffixed(raw):
        train_model_1 = train(training_data=raw)  # noqa: F841
        train(training_data=raw)

    assert list(after(raw=RAW).jobs) == ["my_train", "my_train_1", "my_train_2"]
    assert list(suffixed(raw=RAW).jobs) == ["train_model_1", "train_model_1_1"]
    assert list(before(raw=RAW).jobs) == ["my_train_1", "my_train"]


def test_a_variable_named_like_a_component_pushes_its_default_name_on(prep, train):
    @dsl.pipeline()
    def pipe(raw):
        train_model = prep(raw_data=raw)  # noqa: F841
        train(training_data=raw)

    assert list(pipe(raw=RAW).jobs) == ["train_model", "train_model_1"]


def test_nodes_in_lists_and_dicts_count_as_unassigned(prep, train, score):
    @dsl.pipeline()
    def pipe(raw):
        nodes = [prep(raw_data=raw) for _ in range(2)]
        by_key = {"x": train(training_data=raw)}
        t = score(model_input=nodes[0].outputs.prep_data,  # noqa: F841
                  test_data=by_key["x"].outputs.model_output)

    job = pipe(raw=RAW)
    assert list(job.jobs) == ["prep_data", "prep_data_1", "train_model", "t"]
    assert job.jobs["t"].inputs == {
        "model_input": "${{parent.jobs.prep_data.outputs.prep_data}}",
        "test_data": "${{parent.jobs.train_model.outputs.model_output}}"}


def test_reassigned_deleted_and_underscore_variables(prep, train):
    @dsl.pipeline()
    def reassigned(raw):
        a = prep(raw_data=raw)
        b = train(training_data=a.outputs.prep_data)  # noqa: F841
        a = prep(raw_data=raw)

    @dsl.pipeline()
    def deleted(raw):
        a = prep(raw_data=raw)
        t = train(training_data=a.outputs.prep_data)  # noqa: F841
        del a

    @dsl.pipeline()
    def underscore(raw):
        _ = prep(raw_data=raw)
        _ = prep(raw_data=raw)

    job = reassigned(raw=RAW)
    assert list(job.jobs) == ["a_1", "b", "a"]
    assert binding(job, "b", "training_data") == "${{parent.jobs.a_1.outputs.prep_data}}"
    job = deleted(raw=RAW)
    assert list(job.jobs) == ["prep_data", "t"]
    assert binding(job, "t", "training_data") == "${{parent.jobs.prep_data.outputs.prep_data}}"
    assert list(underscore(raw=RAW).jobs) == ["prep_data", "prep_data_1"]


def test_an_explicit_name_wins_and_bindings_follow_it(prep, train):
    @dsl.pipeline()
    def pipe(raw):
        p = prep(raw_data=raw)
        t = train(training_data=p.outputs.prep_data)
        p.name = "prepare"  # set after its output was bound
        t.name = "fit"
        also = t
        also.name = "fit"
        prep(raw_data=raw).name = "anon_named"

    job = pipe(raw=RAW)
    assert list(job.jobs) == ["prepare", "fit", "anon_named"]
    assert binding(job, "fit", "training_data") == "${{parent.jobs.prepare.outputs.prep_data}}"
    assert step_dependencies(job) == {"prepare": set(), "fit": {"prepare"}, "anon_named": set()}


def test_explicit_names_of_unassigned_nodes_are_deduplicated_and_normalised(prep, train):
    @dsl.pipeline()
    def twice(raw):
        prep(raw_data=raw).name = "x"
        prep(raw_data=raw).name = "x"

    @dsl.pipeline()
    def against_a_variable(raw):
        x = prep(raw_data=raw)  # noqa: F841
        train(training_data=raw).name = "x"

    @dsl.pipeline()
    def odd_name(raw):
        prep(raw_data=raw).name = "My-Prep"

    assert list(twice(raw=RAW).jobs) == ["x", "x_1"]
    assert list(against_a_variable(raw=RAW).jobs) == ["x", "x_1"]
    assert list(odd_name(raw=RAW).jobs) == ["my_prep"]


def test_names_are_unset_while_the_function_runs(train):
    seen = []

    @dsl.pipeline()
    def pipe(raw):
        t = train(training_data=raw)
        seen.append(t.name)
        return {"m": t.outputs.model_output}

    job = pipe(raw=RAW)
    assert seen == [None] and list(job.jobs) == ["t"]
    assert job.jobs["t"].outputs == {"model_output": "${{parent.outputs.m}}"}


def test_nested_pipeline_nodes_are_named_by_variable_too(prep, train, score):
    @dsl.pipeline(name="inner_pipe")
    def inner(data):
        p = prep(raw_data=data)
        t = train(training_data=p.outputs.prep_data)
        return {"model": t.outputs.model_output}

    @dsl.pipeline()
    def outer(raw):
        training = inner(data=raw)
        s = score(model_input=training.outputs.model, test_data=raw)  # noqa: F841
        inner(data=raw)

    @dsl.pipeline()
    def anonymous(raw):
        inner(data=raw)

    job = outer(raw=RAW)
    assert list(job.jobs) == ["training", "s", "training_1"]
    assert binding(job, "s", "model_input") == "${{parent.jobs.training.outputs.model}}"
    assert list(job.jobs["training"].component.jobs) == ["p", "t"]
    assert list(anonymous(raw=RAW).jobs) == ["inner_pipe"]


@pytest.mark.parametrize("body, message", [
    ("upper", "invalid node name 'Prep'"),
    ("bad_explicit", "invalid node name 'my-prep'"),
    ("name_of_variable", "two nodes are named 'a'"),
    ("variable_named", "two nodes are named 'b'"),
])
def test_invalid_and_conflicting_names_are_refused(prep, body, message):
    def upper(raw):
        Prep = prep(raw_data=raw)  # noqa: F841

    def bad_explicit(raw):
        a = prep(raw_data=raw)
        a.name = "My-Prep"

    def name_of_variable(raw):
        a = prep(raw_data=raw)  # noqa: F841
        b = prep(raw_data=raw)
        b.name = "a"

    def variable_named(raw):
        a = prep(raw_data=raw)
        b = prep(raw_data=raw)  # noqa: F841
        a.name = "b"

    fn = dsl.pipeline(name=body)({"upper": upper, "bad_explicit": bad_explicit,
                                  "name_of_variable": name_of_variable,
                                  "variable_named": variable_named}[body])
    with pytest.raises(ValidationError, match=message):
        fn(raw=RAW)


def test_a_default_name_taken_by_a_variable_is_refused(train):
    # azure-ai-ml names the nodes train_model_1, train_model, train_model_1 and silently keeps
    # only one of the two train_model_1 nodes in job.jobs; openaml refuses instead
    @dsl.pipeline()
    def pipe(raw):
        train_model_1 = train(training_data=raw)
        train_model_1.name = "train_model_1"  # keyed by name now, not by component
        train(training_data=raw)
        train(training_data=raw)

    with pytest.raises(ValidationError, match="default name 'train_model_1'"):
        pipe(raw=RAW)


def test_the_profile_function_is_restored(prep):
    def other(frame, event, arg):
        return None

    @dsl.pipeline()
    def fails(raw):
        prep(raw_data=raw)
        raise RuntimeError("boom")

    @dsl.pipeline()
    def works(raw):
        p = prep(raw_data=raw)  # noqa: F841

    previous = sys.getprofile()
    sys.setprofile(other)
    try:
        assert list(works(raw=RAW).jobs) == ["p"]
        assert sys.getprofile() is other
        with pytest.raises(RuntimeError):
            fails(raw=RAW)
        assert sys.getprofile() is other
    finally:
        sys.setprofile(previous)

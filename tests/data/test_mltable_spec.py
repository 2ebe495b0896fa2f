"""Reading MLTable files into typed steps: every transformation and its arguments, the errors
(each naming the file, the field and the line), the one rule for hostile paths, and the round
trip through ``str(table)``."""

from __future__ import annotations

import json
import string
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openaml.entities.mltable import (ColumnConversion, ColumnSelector, ColumnType, ConvertColumnTypes, DropColumns,
                                      KeepColumns, ReadDelimited, ReadJsonLines, ReadParquet, Skip, TablePath, Take,
                                      TakeRandomSample)
from openaml.errors import ValidationError, YamlParseError
from openaml.specs.mltable import check_table_path, is_table_uri, parse_mltable
from openaml.specs.mltable_steps import dump_mltable
from openaml.specs.yamlio import dump_text

FILE = "/data/t/MLTable"


def parse(text: str):
    return parse_mltable(text, FILE)


def refused(text: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse(text)
    assert info.value.details["file"] == FILE
    return info.value


EVERY_STEP = """\
$schema: https://azuremlschemasprod.azureedge.net/latest/MLTable.schema.json
type: mltable
paths:
  - file: ./a.csv
  - folder: more
  - pattern: ./parts/**/*.csv
transformations:
  - read_delimited:
      delimiter: ';'
      header: from_first_file
      encoding: latin1
      empty_as_string: true
      include_path_column: true
      path_column: Source
      support_multi_line: true
      infer_column_types:
        sample_size: 50
        column_type_overrides:
          - columns: [id, n]
            column_type: int
  - take: 100
  - skip: 2
  - take_random_sample: {probability: 0.25, seed: 7}
  - keep_columns: [id, n, when, ok]
  - drop_columns: {pattern: '^tmp_', ignore_case: true}
  - convert_column_types:
      - columns: when
        column_type:
          datetime: {formats: ['%d/%m/%Y', '%Y'], date_constant: '2024-01-31'}
      - columns: ok
        column_type:
          boolean: {true_values: ['yes'], false_values: ['no'], mismatch_as: 'false'}
traits:
  index_columns: [id]
metadata:
  owner: me
"""


def test_every_transformation_is_read_with_its_arguments():
    table = parse(EVERY_STEP)
    assert table.paths == (TablePath("file", "./a.csv"), TablePath("folder", "more"),
                           TablePath("pattern", "./parts/**/*.csv"))
    assert [p.line for p in table.paths] == [4, 5, 6]
    overrides = (ColumnConversion(ColumnSelector(names=("id", "n")), ColumnType(kind="int")),)
    assert table.transformations == (
        ReadDelimited(delimiter=";", header="from_first_file", encoding="latin1", empty_as_string=True,
                      include_path_column=True, path_column="Source", support_multi_line=True,
                      column_type_overrides=overrides, sample_size=50),
        Take(100), Skip(2), TakeRandomSample(probability=0.25, seed=7),
        KeepColumns(ColumnSelector(names=("id", "n", "when", "ok"))),
        DropColumns(ColumnSelector(pattern="^tmp_", ignore_case=True)),
        ConvertColumnTypes((
            ColumnConversion(ColumnSelector(names=("when",)),
                             ColumnType(kind="datetime", formats=("%d/%m/%Y", "%Y"), date_constant="2024-01-31")),
            ColumnConversion(ColumnSelector(names=("ok",)),
                             ColumnType(kind="boolean", true_values=("yes",), false_values=("no",), mismatch_as="false")))))
    assert [step.line for step in table.transformations] == [8, 21, 22, 23, 24, 25, 26]
    assert table.traits == {"index_columns": ["id"]} and table.metadata == {"owner": "me"}
    assert table.file == FILE


def test_the_readers_take_their_defaults_from_a_bare_name():
    table = parse("paths: [{file: a.parquet}]\ntransformations:\n  - read_parquet\n")
    assert table.transformations == (ReadParquet(),) and table.reader == ReadParquet()
    jsonl = parse("paths: [{file: a.jsonl}]\ntransformations:\n  - read_json_lines: {invalid_lines: drop}\n")
    assert jsonl.reader == ReadJsonLines(invalid_lines="drop")
    assert parse("paths: [{file: a}]\n").reader is None


def test_the_round_trip_through_str_gives_the_same_table():
    table = parse(EVERY_STEP)
    again = parse(dump_text(dump_mltable(table)))
    assert again == table and again.traits == table.traits and again.metadata == table.metadata


@pytest.mark.parametrize(("text", "field", "line", "words"), [
    ("paths: [{file: a}]\ntransformations:\n  - filter: 'a > 1'\n", "transformations.0.filter", 3,
     "does not support the MLTable transformation 'filter'"),
    ("paths: [{file: a}]\ntransformations:\n  - read_delta_lake: {}\n", "transformations.0.read_delta_lake", 3,
     "does not support the MLTable transformation 'read_delta_lake'"),
    ("paths: [{file: a}]\ntransformations:\n  - tak: 3\n", "transformations.0.tak", 3, "Did you mean 'take'?"),
    ("paths: [{file: a}]\ntransformations:\n  - read_delimited\n  - take: -1\n", "transformations.1.take", 4,
     "at least 0"),
    ("paths: [{file: a}]\ntransformations:\n  - take: 'ten'\n", "transformations.0.take", 3, "integer"),
    ("paths: [{file: a}]\ntransformations:\n  - take: true\n", "transformations.0.take", 3, "integer"),
    ("paths: [{file: a}]\ntransformations:\n  - take\n", "transformations.0", 3, "needs a value"),
    ("paths: [{file: a}]\ntransformations:\n  - take: 1\n  - read_delimited\n", "transformations.1", 4,
     "must be the first"),
    ("paths: [{file: a}]\ntransformations:\n  - read_delimited:\n      delimeter: ';'\n",
     "transformations.0.read_delimited.delimeter", 4, "Did you mean 'delimiter'?"),
    ("paths: [{file: a}]\ntransformations:\n  - read_delimited: {header: first}\n",
     "transformations.0.read_delimited.header", 3, "must be one of"),
    ("paths: [{file: a}]\ntransformations:\n  - read_delimited: {delimiter: '||'}\n",
     "transformations.0.read_delimited.delimiter", 3, "one-character"),
    ("paths: [{file: a}]\ntransformations:\n  - read_delimited: {encoding: ebcdic}\n",
     "transformations.0.read_delimited.encoding", 3, "must be one of"),
    ("paths: [{file: a}]\ntransformations:\n  - take_random_sample: {probability: 1.5}\n",
     "transformations.0.take_random_sample.probability", 3, "between 0 and 1"),
    ("paths: [{file: a}]\ntransformations:\n  - take_random_sample: {seed: 1}\n",
     "transformations.0.take_random_sample", 3, "needs a probability"),
    ("paths: [{file: a}]\ntransformations:\n  - keep_columns: [a, a]\n", "transformations.0.keep_columns", 3,
     "twice: a"),
    ("paths: [{file: a}]\ntransformations:\n  - drop_columns: {pattern: '(unclosed'}\n",
     "transformations.0.drop_columns.pattern", 3, "not a regular expression"),
    ("paths: [{file: a}]\ntransformations:\n  - convert_column_types:\n      - columns: a\n"
     "        column_type: stream_info\n", "transformations.0.convert_column_types.0.column_type", 5, "stream_info"),
    ("paths: [{file: a}]\ntransformations:\n  - convert_column_types:\n      - columns: a\n"
     "        column_type: {boolean: {true_values: [y]}}\n",
     "transformations.0.convert_column_types.0.column_type.boolean", 5, "go together"),
    ("paths: [{file: a}]\ntransformations:\n  - convert_column_types:\n      - columns: a\n"
     "        column_type: {datetime: {formats: '%Y', date_constant: 'soon'}}\n",
     "transformations.0.convert_column_types.0.column_type.datetime.date_constant", 5, "YYYY-MM-DD"),
    ("paths: [{file: a}]\ntransformations:\n  - convert_column_types: []\n",
     "transformations.0.convert_column_types", 3, "non-empty list"),
    ("paths: [{file: a}]\nquery_source: {query: 'select 1'}\n", "query_source", 2, "query"),
    ("paths: [{file: a}]\ntransformations: 3\n", "transformations", 2, "list of steps"),
])
def test_a_bad_step_is_refused_naming_the_file_field_and_line(text, field, line, words):
    err = refused(text)
    assert (err.details["field"], err.details["line"]) == (field, line)
    assert words in err.message and f"{FILE}:{line}" in err.message


def test_malformed_yaml_names_the_file_and_the_line():
    with pytest.raises(YamlParseError) as info:
        parse("paths:\n  - file: a.csv\ntransformations:\n  - take: [1\n")
    assert info.value.details["file"] == FILE and info.value.details["line"] == 5


@pytest.mark.parametrize("value", [
    "../secret.csv", "data/../../x.csv", "/etc/passwd", "file:///etc/passwd", "FILE:/etc/passwd", "~/x.csv", "~",
    "C:\\data\\x.csv", "c:/x.csv", "data\\x.csv", "\\\\server\\share\\x.csv", "bad\x00name.csv", "line\nbreak.csv",
    "esc\x1b[31m.csv",
])
def test_a_path_leaving_the_mltable_folder_is_refused_with_the_line(value):
    err = refused(f"paths:\n  - folder: ok\n  - file: {json.dumps(value)}\n")  # a YAML double-quoted string
    assert err.details["field"] == "paths.1.file" and err.details["line"] == 3


@pytest.mark.parametrize(("value", "normal"), [
    ("./a.csv", "a.csv"), ("a//b/./c.csv", "a/b/c.csv"), (".", ""), ("./", ""),
    ("azureml://datastores/ds/paths/x/", "azureml://datastores/ds/paths/x/"),
    ("s3://bucket/key.csv", "s3://bucket/key.csv"), ("azureml:table:1", "azureml:table:1"),
])
def test_a_path_inside_the_folder_or_a_uri_is_kept(value, normal):
    assert check_table_path(value) == normal


_SEGMENT = st.sampled_from(["..", ".", "", "a", "b.csv", "~", "c d", "%2e%2e", "*"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_SEGMENT, min_size=1, max_size=6), st.sampled_from(["", "/", "./", "\\"]))
def test_a_relative_path_is_either_refused_or_inside_the_folder(parts, lead):
    value = lead + "/".join(parts)
    try:
        normal = check_table_path(value)
    except ValidationError as exc:
        assert exc.details["field"] == "paths"
        return
    assert not normal.startswith("/") and ".." not in normal.split("/") and "\\" not in normal
    assert normal == "" or all(p not in ("", ".") for p in normal.split("/"))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable + "\x00\x1b\u0085\u2028", max_size=40))
def test_any_text_as_a_path_never_leaves_the_folder(value):
    try:
        normal = check_table_path(value)
    except ValidationError:
        return
    if not is_table_uri(value):  # URIs are checked where they are read (tests/datastores)
        assert ".." not in normal.split("/") and not normal.startswith(("/", "~/")) and normal != "~"
        assert not any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in normal)


def test_a_file_whose_aliases_expand_to_billions_of_values_is_refused_quickly():
    lines = ["paths: [{file: a}]", "metadata:", "  l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10^9 values
    started = time.monotonic()
    with pytest.raises(YamlParseError, match="more than 100,000 values once its aliases are expanded") as info:
        parse("\n".join(lines) + "\n")
    assert info.value.details["file"] == FILE and time.monotonic() - started < 5
    table = parse("paths: [{file: a}]\nmetadata:\n  x: &x [1, 2]\n  y: *x\n")  # a few aliases are fine
    assert table.metadata == {"x": [1, 2], "y": [1, 2]}

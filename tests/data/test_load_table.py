"""``openaml.data.load_table`` on local folders: each path kind, each reader and its options,
each step of the chainable API, and what Azure's ``mltable`` gives for the same files (the
expected frames below were read with Azure's mltable 1.7.0 from the same files, side by side)."""

from __future__ import annotations

import io
import math

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openaml.data import DataType, MLTable, load, load_table
from openaml.errors import MissingExtraError, NotFoundError, ValidationError

from tests.data.conftest import ONE_CSV

ONE = "paths:\n  - file: ./d/one.csv\n"
BOTH = "paths:\n  - folder: d\n"


def rows(df: pd.DataFrame) -> list[list]:
    """The frame's values, with every kind of null as None (pandas has several)."""
    return [[None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT else v
             for v in row] for row in df.astype(object).itertuples(index=False)]


def kinds(df: pd.DataFrame) -> dict[str, str]:
    """Each column's kind as pandas says it: i(nt), f(loat), b(ool), M (datetime), s (text)."""
    return {name: ("s" if pd.api.types.is_string_dtype(dtype) else dtype.kind)
            for name, dtype in df.dtypes.items()}


def test_read_delimited_infers_types_as_azure_does(table_dir):
    df = load_table(table_dir(ONE + "transformations:\n  - read_delimited: {}\n")).to_pandas_dataframe()
    assert list(df.columns) == ["a", "b", "c", "d"]
    assert rows(df) == [[1, "x", 2.5, True], [2, None, 3.5, False], [3, "z", None, True]]
    assert kinds(df) == {"a": "i", "b": "s", "c": "f", "d": "b"}


def test_a_column_of_ones_and_zeros_is_boolean_and_iso_dates_are_datetimes(table_dir):
    data = {"d2.csv": b"k,n,t,dt\n1,1,yes,2024-01-02\n0,,no,2024-02-03 10:11:12\n,2,TRUE,\n"}
    df = load_table(table_dir("paths: [{file: d2.csv}]\ntransformations: [read_delimited]\n", data)).to_pandas_dataframe()
    assert rows(df) == [[True, 1.0, "yes", pd.Timestamp("2024-01-02")],
                        [False, None, "no", pd.Timestamp("2024-02-03 10:11:12")], [None, 2.0, "TRUE", None]]
    assert kinds(df)["dt"] == "M"


@pytest.mark.parametrize(("header", "expected", "columns"), [
    ("all_files_same_headers", [[1, "x", 2.5, True], [2, None, 3.5, False], [3, "z", None, True], [4, "w", 9.0, None]],
     ["a", "b", "c", "d"]),
    ("all_files_different_headers",
     [[1, "x", 2.5, True, None], [2, None, 3.5, False, None], [3, "z", None, True, None], [4, "w", None, None, 9.0]],
     ["a", "b", "c", "d", "e"]),
    ("from_first_file", [["1", "x", "2.5", True], ["2", None, "3.5", False], ["3", "z", None, True],
                         ["a", "b", "e", None], ["4", "w", "9", None]], ["a", "b", "c", "d"]),
    ("no_header", [["a", "b", "c", "d"], ["1", "x", "2.5", "true"], ["2", None, "3.5", "false"],
                   ["3", "z", None, "True"], ["a", "b", "e", None], ["4", "w", "9", None]],
     ["Column1", "Column2", "Column3", "Column4"]),
])
def test_each_header_mode_over_a_folder(table_dir, header, expected, columns):
    df = load_table(table_dir(BOTH + f"transformations:\n  - read_delimited: {{header: {header}}}\n")).to_pandas_dataframe()
    assert list(df.columns) == columns and rows(df) == expected


def test_file_folder_and_pattern_paths_with_the_path_column(table_dir):
    text = ("paths:\n  - file: d/two.csv\n  - pattern: './d/*.csv'\n  - folder: ./nested\n"
            "transformations:\n  - read_delimited: {include_path_column: true, header: all_files_different_headers}\n")
    folder = table_dir(text, {"d/one.csv": ONE_CSV, "d/two.csv": b"a,b,e\n4,w,9\n", "d/skip.txt": b"not,csv\n",
                              "nested/deep/x.csv": b"a\n7\n"})
    df = load_table(folder).to_pandas_dataframe()
    sources = [p.removeprefix(str(folder.resolve()) + "/") for p in df["Path"]]
    assert sources == ["d/two.csv", "d/one.csv", "d/one.csv", "d/one.csv", "d/two.csv", "nested/deep/x.csv"]
    assert df["a"].tolist() == [4, 1, 2, 3, 4, 7]


def test_a_recursive_pattern_and_a_literal_one(table_dir):
    files = {"p/2024/01/a.csv": b"v\n1\n", "p/2024/02/b.csv": b"v\n2\n", "p/2024/02/c.txt": b"v\n3\n", "top.csv": b"v\n4\n"}
    deep = load_table(table_dir("paths: [{pattern: 'p/**/*.csv'}]\ntransformations: [read_delimited]\n", files))
    assert deep.to_pandas_dataframe()["v"].tolist() == [1, 2]
    literal = load_table(table_dir("paths: [{pattern: top.csv}]\ntransformations: [read_delimited]\n", files))
    assert literal.to_pandas_dataframe()["v"].tolist() == [4]


def test_folder_dot_reads_the_folder_but_not_the_mltable_file_itself(table_dir):
    # Azure reads its own MLTable file as data here (garbage rows); openaml leaves it out.
    df = load_table(table_dir("paths: [{folder: ./}]\ntransformations: [read_delimited]\n",
                              {"x.csv": b"a,b\n1,2\n"})).to_pandas_dataframe()
    assert rows(df) == [[1, 2]]


def test_paths_only_gives_a_path_column(table_dir):
    folder = table_dir(BOTH)
    df = load_table(folder).to_pandas_dataframe()
    assert df["Path"].tolist() == [str(folder.resolve() / "d" / n) for n in ("one.csv", "two.csv")]


def test_options_empty_as_string_no_inference_delimiter_and_encodings(table_dir):
    base = ONE + "transformations:\n  - read_delimited: {%s}\n"
    as_string = load_table(table_dir(base % "empty_as_string: true")).to_pandas_dataframe()
    assert rows(as_string) == [[1, "x", "2.5", True], [2, "", "3.5", False], [3, "z", "", True]]
    text = load_table(table_dir(base % "infer_column_types: false")).to_pandas_dataframe()
    assert rows(text)[0] == ["1", "x", "2.5", "true"]
    for encoding, codec in (("latin1", "latin-1"), ("utf16", "utf-16"), ("utf8 bom", "utf-8-sig"),
                            ("windows1252", "cp1252")):
        data = {"t.tsv": "name\tprice\ncafé\t1,5\n".encode(codec)}
        df = load_table(table_dir("paths: [{file: t.tsv}]\ntransformations:\n  - read_delimited: "
                                  f"{{delimiter: \"\\t\", encoding: '{encoding}'}}\n", data)).to_pandas_dataframe()
        assert rows(df) == [["café", "1,5"]], encoding


def test_quoted_line_breaks_ragged_rows_and_repeated_headers(table_dir):
    data = {"q.csv": b'a,a,,c\n1,"two\nlines",3,4\n5,6\n7,8,9,10,11\n'}
    df = load_table(table_dir("paths: [{file: q.csv}]\ntransformations: [read_delimited]\n", data)).to_pandas_dataframe()
    assert list(df.columns) == ["a", "a_1", "Column3", "c", "Column5"]
    assert rows(df) == [[1, "two\nlines", 3, 4, None], [5, "6", None, None, None], [7, "8", 9, 10, 11]]


def test_a_file_in_the_wrong_encoding_names_the_file_and_the_step(table_dir):
    folder = table_dir("paths: [{file: t.csv}]\ntransformations:\n  - read_delimited: {encoding: ascii}\n",
                       {"t.csv": "a\ncafé\n".encode()})
    with pytest.raises(ValidationError) as info:
        load_table(folder).to_pandas_dataframe()
    assert info.value.details["field"] == "transformations.0.read_delimited" and info.value.details["line"] == 3
    assert "t.csv cannot be read by read_delimited: it is not ascii text" in info.value.message


def test_read_parquet_joins_files_by_name(table_dir):
    one, two = io.BytesIO(), io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), one)
    pq.write_table(pa.table({"a": [3.5], "c": [True]}), two)
    folder = table_dir("paths: [{pattern: '*.parquet'}]\ntransformations:\n  - read_parquet: {include_path_column: true}\n",
                       {"1.parquet": one.getvalue(), "2.parquet": two.getvalue()})
    df = load_table(folder).to_pandas_dataframe()
    assert list(df.columns) == ["Path", "a", "b", "c"]
    assert rows(df.drop(columns="Path")) == [[1.0, "x", None], [2.0, "y", None], [3.5, None, True]]
    broken = table_dir("paths: [{file: x.parquet}]\ntransformations: [read_parquet]\n", {"x.parquet": b"a,b\n"})
    with pytest.raises(ValidationError, match="x.parquet cannot be read by read_parquet: it is not a Parquet file"):
        load_table(broken).to_pandas_dataframe()


def test_read_json_lines_drops_or_refuses_invalid_lines(table_dir):
    data = {"j.jsonl": b'{"a": 1, "b": "x"}\n{"a": 2.5}\nnot json\n\n{"c": [1, 2]}\n'}
    drop = load_table(table_dir("paths: [{file: j.jsonl}]\ntransformations:\n  - read_json_lines: {invalid_lines: drop}\n",
                                data)).to_pandas_dataframe()
    assert rows(drop)[:2] == [[1.0, "x", None], [2.5, None, None]] and list(drop["c"][2]) == [1, 2]
    with pytest.raises(ValidationError) as info:
        load_table(table_dir("paths: [{file: j.jsonl}]\ntransformations: [read_json_lines]\n", data)).to_pandas_dataframe()
    assert "j.jsonl cannot be read by read_json_lines: line 3 is not a JSON object: 'not json'" in info.value.message


def test_take_skip_and_columns_in_the_file(table_dir):
    text = (ONE + "transformations:\n  - read_delimited\n  - skip: 1\n  - take: 1\n  - keep_columns: [d, a, nope]\n"
            "  - drop_columns: {pattern: '^D$', ignore_case: true}\n")
    assert rows(load_table(table_dir(text)).to_pandas_dataframe()) == [[2]]


@pytest.mark.parametrize("count", [0, 3, 10 ** 30])
def test_take_any_count_in_the_file(table_dir, count):
    df = load_table(table_dir(ONE + f"transformations:\n  - read_delimited\n  - take: {count}\n")).to_pandas_dataframe()
    assert len(df) == min(count, 3)


def test_the_chainable_api(table_dir):
    table = load_table(table_dir(ONE + "transformations: [read_delimited]\n"))
    chained = table.take(2).drop_columns("b").keep_columns(["a", "c", "d"]).convert_column_types(
        {"a": DataType.to_float(), ("c",): DataType.to_int(), "d": "string"})
    assert rows(chained.to_pandas_dataframe()) == [[1.0, 2, "true"], [2.0, 3, "false"]]
    assert isinstance(chained, MLTable) and table.paths == chained.paths == [{"file": "./d/one.csv"}]
    assert "take: 2" in str(chained) and "take" not in str(table)  # each step a new table
    assert len(table.show(1)) == 1 and len(table.skip(2).to_pandas_dataframe()) == 1
    assert load(table_dir(ONE)).paths == [{"file": "./d/one.csv"}]  # Azure's name and signature


def test_conversions_make_what_does_not_convert_null(table_dir):
    data = {"v.csv": b"n,when,flag,t\n12,31/01/2024,yes,10:30\nx,2024,maybe,\n-3,1/2/2023,no,23:59\n"}
    table = load_table(table_dir("paths: [{file: v.csv}]\ntransformations:\n  - read_delimited: "
                                 "{infer_column_types: false}\n", data))
    df = table.convert_column_types({
        "n": DataType.to_int(), "when": DataType.to_datetime(["%d/%m/%Y", "%Y"]),
        "flag": DataType.to_bool(["yes"], ["no"], mismatch_as="false"), "t": DataType.to_datetime("%H:%M", "2020-05-06"),
    }).to_pandas_dataframe()
    assert rows(df) == [[12, pd.Timestamp("2024-01-31"), True, pd.Timestamp("2020-05-06 10:30")],
                        [None, pd.Timestamp("2024-01-01"), False, None],
                        [-3, pd.Timestamp("2023-02-01"), False, pd.Timestamp("2020-05-06 23:59")]]


def test_the_sample_is_reproducible_with_a_seed_and_about_the_probability(table_dir):
    data = {"n.csv": b"n\n" + b"".join(b"%d\n" % i for i in range(4000))}
    table = load_table(table_dir("paths: [{file: n.csv}]\ntransformations: [read_delimited]\n", data))
    first = table.take_random_sample(0.25, seed=11).to_pandas_dataframe()
    assert first.equals(table.take_random_sample(0.25, seed=11).to_pandas_dataframe())
    assert not first.equals(table.take_random_sample(0.25, seed=12).to_pandas_dataframe())
    assert 850 < len(first) < 1150 and first["n"].is_monotonic_increasing
    unseeded = table.take_random_sample(0.5)  # the seed is drawn once: the same rows each time
    assert unseeded.to_pandas_dataframe().equals(unseeded.to_pandas_dataframe())


@pytest.mark.parametrize(("call", "field"), [
    (lambda t: t.take(0), "count"), (lambda t: t.take(True), "count"), (lambda t: t.skip(-1), "count"),
    (lambda t: t.take_random_sample(1.0), "probability"), (lambda t: t.take_random_sample(0.5, seed="x"), "seed"),
    (lambda t: t.keep_columns(["a", "a"]), "columns"), (lambda t: t.drop_columns([1]), "columns"),
    (lambda t: t.convert_column_types({}), "column_types"),
    (lambda t: t.convert_column_types({"a": "decimal"}), "column_types"),
    (lambda t: t.convert_column_types({"a": "int", ("a", "b"): "float"}), "column_types"),
    (lambda t: DataType.to_bool(["y"]), "true_values"), (lambda t: DataType.to_datetime([]), "formats"),
    (lambda t: DataType.to_datetime("%Y", "31/01/2024"), "date_constant"),
])
def test_bad_arguments_are_refused_naming_the_argument(table_dir, call, field):
    table = load_table(table_dir(ONE))
    with pytest.raises(ValidationError) as info:
        call(table)
    assert info.value.details["field"] == field


@pytest.mark.parametrize("name", ["filter", "random_split", "save", "extract_columns_from_partition_format"])
def test_azure_methods_openaml_lacks_say_so(table_dir, name):
    with pytest.raises(NotImplementedError, match=f"openaml does not support MLTable.{name}"):
        getattr(load_table(table_dir(ONE)), name)
    with pytest.raises(NotImplementedError, match="to_stream"):
        DataType.to_stream()


def test_missing_things_are_named(table_dir, tmp_path):
    with pytest.raises(NotFoundError, match="no MLTable file there"):
        load_table(tmp_path)
    for text, words in (("paths: [{file: nope.csv}]\n", "'nope.csv' names no file"),
                        ("paths: [{folder: d/one.csv}]\n", "names no folder"),
                        ("paths: [{pattern: 'd/*.parquet'}]\n", "matches no file")):
        folder = table_dir(text)
        with pytest.raises(NotFoundError) as info:
            load_table(folder).to_pandas_dataframe()
        assert words in info.value.message and info.value.details["line"] == 1
        assert info.value.details["file"] == str(folder.resolve() / "MLTable")
    assert load_table(table_dir(ONE) / "MLTable").paths == [{"file": "./d/one.csv"}]  # the file itself is fine


def test_a_broken_mltable_file_is_refused_when_loaded(table_dir):
    folder = table_dir("paths:\n  - file: a.csv\ntransformations:\n  - take: [1\n")
    with pytest.raises(ValidationError) as info:
        load_table(folder)
    assert info.value.details["file"] == str(folder.resolve() / "MLTable") and info.value.details["line"] == 5


def test_a_symbolic_link_out_of_the_folder_is_refused(table_dir, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    folder = table_dir("paths: [{file: leak.csv}]\ntransformations: [read_delimited]\n", {})
    (folder / "leak.csv").symlink_to(secret)
    with pytest.raises(ValidationError, match="outside its root through a symbolic link"):
        load_table(folder).to_pandas_dataframe()
    inside = table_dir("paths: [{folder: d}]\ntransformations: [read_delimited]\n", {"d/x.csv": b"a\n1\n"})
    (inside / "d" / "link.csv").symlink_to(inside / "d" / "x.csv")  # a link that stays inside is read
    assert load_table(inside).to_pandas_dataframe()["a"].tolist() == [1, 1]
    (inside / "d" / "zz.csv").symlink_to(secret)  # and a folder holding one that leaves is refused
    with pytest.raises(ValidationError, match="symbolic link"):
        load_table(inside).to_pandas_dataframe()


def test_without_pyarrow_one_line_says_what_to_install(table_dir, monkeypatch):
    table = load_table(table_dir(ONE))  # the file is read without pyarrow
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'openaml\[mltable\]'"):
        table.to_pandas_dataframe()


def test_a_file_that_is_not_utf8_names_the_file(table_dir):
    folder = table_dir("paths: [{file: t.csv}]\ntransformations: [read_delimited]\n", {"t.csv": b"a,b\n\xff\xfe,1\n"})
    with pytest.raises(ValidationError, match="t.csv cannot be read by read_delimited: it is not utf8 text"):
        load_table(folder).to_pandas_dataframe()


def test_a_huge_mltable_file_is_not_read(table_dir):
    folder = table_dir("paths: [{file: a.csv}]\n" + "# padding\n" * 200_000, {})
    with pytest.raises(ValidationError, match="larger than 1024 KiB") as info:
        load_table(folder)
    assert info.value.details["file"] == str(folder.resolve() / "MLTable")

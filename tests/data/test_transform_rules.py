"""Rules that hold for any table or value (hypothesis): take and skip cut the rows, keep and drop
split the columns, a sample is a subset in order, integers and floats written as text convert
back, and a written CSV reads back with its header."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from openaml.data.columns import convert, infer
from openaml.data.transforms import apply, sample
from openaml.entities.mltable import ColumnSelector, ColumnType, DropColumns, KeepColumns, Skip, Take

from tests.data.conftest import write_table

NAMES = st.lists(st.text(alphabet="abcxyz_", min_size=1, max_size=4), min_size=1, max_size=6, unique=True)


@st.composite
def tables(draw) -> pa.Table:
    names = draw(NAMES)
    n = draw(st.integers(0, 30))
    return pa.table({name: pa.array(range(n)) for name in names})


@settings(max_examples=100, deadline=None)
@given(tables(), st.integers(0, 10 ** 20), st.integers(0, 10 ** 20))
def test_take_and_skip_cut_the_rows(table, take, skip):
    out = apply(table, (Skip(skip), Take(take)))
    assert out.column_names == table.column_names
    assert out.num_rows == max(0, min(take, table.num_rows - skip))
    if out.num_rows:
        assert out.column(0).to_pylist() == list(range(skip, skip + out.num_rows))


@settings(max_examples=100, deadline=None)
@given(tables(), st.data())
def test_keep_and_drop_split_the_columns_in_order(table, data):
    chosen = data.draw(st.lists(st.sampled_from(table.column_names + ["missing"]), unique=True))
    selector = ColumnSelector(names=tuple(chosen))
    kept = apply(table, (KeepColumns(selector),)).column_names
    dropped = apply(table, (DropColumns(selector),)).column_names
    assert sorted(kept + dropped) == sorted(table.column_names) and not set(kept) & set(dropped)
    assert kept == [n for n in table.column_names if n in chosen]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 300), st.floats(0.0, 1.0), st.integers(0, 2 ** 32))
def test_a_sample_is_a_subset_in_order_and_the_seed_decides_it(n, probability, seed):
    table = pa.table({"i": pa.array(range(n))})
    once = sample(table, probability, seed).column(0).to_pylist()
    assert once == sample(table, probability, seed).column(0).to_pylist()
    assert once == sorted(set(once)) and set(once) <= set(range(n))
    assert (once == []) if probability == 0.0 else True


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-2 ** 63, 2 ** 63 - 1)), max_size=20))
def test_integers_written_as_text_convert_back(values):
    text = pa.array([None if v is None else str(v) for v in values], pa.string())
    assert convert(text, ColumnType(kind="int")).to_pylist() == values
    present = {v for v in values if v is not None}
    if present:  # inferred: booleans when every value is 0 or 1 (as in Azure), else integers
        boolean = present <= {0, 1}
        assert infer(text).to_pylist() == [None if v is None else bool(v) if boolean else v for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=20))
def test_floats_written_as_text_convert_back(values):
    text = pa.array([repr(v) for v in values], pa.string())
    assert convert(text, ColumnType(kind="float")).to_pylist() == values
    ints = convert(text, ColumnType(kind="int")).to_pylist()
    assert ints == [int(v) if abs(v) < 2 ** 63 else None for v in values]  # truncated, as in Azure


CELL = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abcdef", min_size=1, max_size=5), min_size=1, max_size=4, unique=True),
       st.lists(st.lists(CELL, min_size=1, max_size=4), min_size=1, max_size=6), st.sampled_from([",", ";", "\t", "|"]))
def test_a_written_csv_reads_back_as_text(tmp_path_factory, header, body, delimiter):
    import csv
    import io
    import json

    from openaml.data import load_table

    width = len(header)
    body = [(row + [""] * width)[:width] for row in body]
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows([header, *body])
    folder = write_table(tmp_path_factory.mktemp("csv"), "paths: [{file: t.csv}]\ntransformations:\n  - read_delimited: "
                         f"{{delimiter: {json.dumps(delimiter)}, infer_column_types: false, empty_as_string: true}}\n",
                         {"t.csv": out.getvalue().encode()})
    df = load_table(folder).to_pandas_dataframe()
    assert list(df.columns) == header
    assert [list(r) for r in df.astype(object).itertuples(index=False)] == body

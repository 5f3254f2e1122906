"""Bulk inserts for ingest: a Core executemany with the per-row parameter machinery taken out.

`conn.execute(table.insert(), rows)` spends most of its time, per row and per column, in
SQLAlchemy's generic parameter handling rather than in the database (a profile of 500-event
batches: about half the ingest time). Here the statement is compiled once per dialect and
column set, and values are prepared a column at a time: each column's own bind processor (the
same one SQLAlchemy would call: JSON, the UTC datetime type, enums) runs once per distinct
value — a batch repeats its tenant, status, severity, source and timestamps — and the driver's
executemany gets plain tuples (or dicts, for drivers with named parameters). What reaches the
database is exactly what the Core statement would have sent.

Rows are written as given: callers set tenant_id themselves (STYLE §4 — Core inserts bypass
core/tenancy.py's stamping).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable

import sqlalchemy as sa


class Same:
    """One value for every row of an insert_columns call (processed once)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


class Serialized:
    """A column's values already in the form its bind processor would produce (e.g. JSON text)."""

    __slots__ = ("values",)

    def __init__(self, values: list) -> None:
        self.values = values


@functools.lru_cache(maxsize=64)
def _prepared(table: sa.Table, dialect: sa.Dialect, keys: tuple[str, ...]):
    compiled = table.insert().compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    order = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
    if missing := set(order) - set(keys):
        # The statement would need column defaults filled per row; the caller must give every column.
        raise ValueError(f"bulk insert: {table.name} needs values for {sorted(missing)}")
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in order]
    # Memoising by value is safe where equal values serialise alike; in JSON, 1 == True but "1" != "true".
    types = [table.c[name].type for name in order]
    memo = [not isinstance(getattr(t, "impl", t), sa.JSON) for t in types]
    # Two columns of one type given the same list (first_seen and last_seen of new alerts) are processed once.
    kinds = [repr(t) for t in types]
    return str(compiled), order, list(zip(processors, memo, kinds, strict=True)), compiled.positional


def _column(name: str, values, processing, count: int, done_lists: dict) -> Iterable:
    processor, memo, kind = processing
    if isinstance(values, Same):
        value = processor(values.value) if processor and values.value is not None else values.value
        return itertools.repeat(value, count)
    serialized = isinstance(values, Serialized)
    values = values.values if serialized else values
    if len(values) != count:
        raise ValueError(f"insert_columns: {name} has {len(values)} values for {count} rows")
    if processor is None or serialized:
        return values
    key = (id(values), kind)
    if key not in done_lists:
        done_lists[key] = _processed(values, processor, memo)
    return done_lists[key]


def _processed(values: list, processor, memo: bool) -> list:
    if not memo:
        return list(map(processor, values))
    try:
        done = {v: processor(v) for v in set(values)}  # enums, timestamps, ids: few distinct values
    except TypeError:  # unhashable (JSON lists and objects): one call per row
        return list(map(processor, values))
    return [done[v] for v in values]


def insert_columns(conn: sa.Connection, table: sa.Table, count: int, columns: dict[str, object]) -> None:
    """INSERT `count` rows given column by column: a list per column, `Same(v)` or `Serialized([...])`."""
    if not count:
        return
    sql, order, processors, positional = _prepared(table, conn.dialect, tuple(columns))
    done_lists: dict = {}
    prepared = [_column(name, columns[name], p, count, done_lists) for name, p in zip(order, processors, strict=True)]
    params = list(zip(*prepared, strict=False))  # Same columns repeat exactly `count` times
    if not positional:
        params = [dict(zip(order, values, strict=True)) for values in params]
    conn.exec_driver_sql(sql, params)


def insert_rows(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """INSERT every row (all with the same keys) in one executemany."""
    if not rows:
        return
    insert_columns(conn, table, len(rows), {name: [row[name] for row in rows] for name in rows[0]})

"""Elapsed time between two stored UTC times, computed by the database on SQLite and PostgreSQL.

Aggregates over many rows (mean time to acknowledge, SLA checks) must not pull every row into
Python, and the two databases spell date arithmetic differently; this construct compiles to
each one's form.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class seconds_between(FunctionElement):  # noqa: N801 — used like a SQL function
    """`seconds_between(start, end)`: end - start in seconds, as a float (NULL when either is NULL)."""

    type = sa.Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _generic(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(seconds_between, "sqlite")
def _sqlite(element, compiler, **kw):
    # Times are stored as ISO text in UTC (core/db.py UTCDateTime); julianday() reads them in days.
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"

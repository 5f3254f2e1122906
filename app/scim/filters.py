"""The SCIM filter subset identity providers send: `attr eq value` clauses joined by `and`.

Okta and Entra ID look users up by `userName eq`, `externalId eq` or `emails.value eq`, and
groups by `displayName eq`; Entra checks one membership with
`id eq "…" and members[value eq "…"]`. Anything else is a 400 invalidFilter, so an IdP
never mistakes an unsupported filter for "no match".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from app.scim.errors import invalid_filter

_CLAUSE = re.compile(
    r"""^\s*(?P<attr>[A-Za-z][\w.:$-]*?)(?:\[(?P<inner>[^\]]+)\])?\s+(?P<op>[A-Za-z]{2})\s+
        (?P<value>"(?:[^"\\]|\\.)*"|true|false|null|-?\d+(?:\.\d+)?)\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_BRACKET = re.compile(r"^\s*(?P<attr>[A-Za-z][\w.:$-]*)\[(?P<inner>[^\]]+)\]\s*$")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Condition:
    """`path eq value`; path is lower-cased and dotted (`emails.value`, `members.value`)."""

    path: str
    value: object


def _split_and(text: str) -> list[str]:
    """Split on `and` outside quotes and brackets."""
    parts, depth, quoted, start = [], 0, False, 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "[":
            depth += 1
        elif not quoted and ch == "]":
            depth -= 1
        elif not quoted and depth == 0 and (m := _AND.match(text, i)):
            parts.append(text[start:i])
            start = i = m.end()
            continue
        elif not quoted and depth == 0 and re.match(r"\s+or\s+|\bnot\s*\(", text[i:], re.IGNORECASE):
            raise invalid_filter("Only “eq” clauses joined by “and” are supported.")
        i += 1
    if quoted or depth:
        raise invalid_filter("The filter has an unclosed quote or bracket.")
    parts.append(text[start:])
    return parts


def _literal(raw: str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid_filter(f"Cannot read the value {raw}.")


def _strip_core_urn(path: str) -> str:
    # "urn:ietf:params:scim:schemas:core:2.0:User:userName" names the core attribute userName.
    if path.lower().startswith("urn:ietf:params:scim:schemas:core:2.0:"):
        return path.rsplit(":", 1)[1]
    if path.lower().startswith("urn:"):
        raise invalid_filter("Filtering on extension attributes is not supported.")
    return path


def parse_filter(text: str | None) -> list[Condition]:
    """Parse a filter into its conditions (all must hold); an empty filter matches everything."""
    if not text or not text.strip():
        return []
    conditions = []
    for part in _split_and(text.strip()):
        if bracket := _BRACKET.match(part):  # members[value eq "…"] alone, as Entra sends it
            inner = parse_filter(bracket["inner"])
            conditions += [Condition(f"{bracket['attr'].lower()}.{c.path}", c.value) for c in inner]
            continue
        match = _CLAUSE.match(part)
        if match is None:
            raise invalid_filter(f"Cannot read the filter clause “{part.strip()}”.")
        if match["op"].lower() != "eq":
            raise invalid_filter(f"The operator “{match['op']}” is not supported; use “eq”.")
        path = _strip_core_urn(match["attr"]).lower()
        if match["inner"]:
            inner = parse_filter(match["inner"])
            conditions += [Condition(f"{path}.{c.path}", c.value) for c in inner]
            continue
        conditions.append(Condition(path, _literal(match["value"])))
    return conditions


CASE_EXACT = {"id", "externalid", "members.value", "groups.value"}


def _values_at(resource: dict, path: str) -> list:
    """Every value at a dotted path, looking into lists (emails.value → each email's value)."""
    current = [resource]
    for key in path.split("."):
        found = []
        for item in current:
            if isinstance(item, dict):
                value = next((v for k, v in item.items() if k.lower() == key), None)
                if isinstance(value, list):
                    found.extend(value)
                elif value is not None:
                    found.append(value)
        current = found
    return current


def _equal(a: object, b: object, case_exact: bool) -> bool:
    if isinstance(a, str) and isinstance(b, str) and not case_exact:
        return a.lower() == b.lower()
    return a == b


def matches(resource: dict, conditions: list[Condition]) -> bool:
    """Whether a rendered SCIM resource satisfies every condition."""
    for cond in conditions:
        values = _values_at(resource, cond.path)
        if cond.value is None:
            if values:
                return False
            continue
        if not any(_equal(v, cond.value, cond.path in CASE_EXACT) for v in values):
            return False
    return True

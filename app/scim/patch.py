"""PATCH (RFC 7644 §3.5.2) applied to a resource's SCIM representation, as IdPs really send it.

The operations change a plain dict; the service then saves the result exactly as it saves a
PUT, so PATCH and PUT share every rule. Tolerated on purpose, because Okta and Entra ID send
them: `op` in any case ("Replace"), operations without `path` whose value holds attributes
(dotted names and extension URNs included), booleans as strings ("False"), `members[value eq
"…"]` paths, and `remove` of members listed in `value` instead of a path filter.
"""

from __future__ import annotations

import re

from app.scim.errors import invalid_path, invalid_syntax, invalid_value, no_target
from app.scim.filters import matches, parse_filter

PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_PATH = re.compile(r"^(?P<attr>[A-Za-z$][\w$-]*)(?:\[(?P<filter>[^\]]+)\])?(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$")


def _key(container: dict, name: str) -> str:
    """The existing key for an attribute name (names are case-insensitive), else the name."""
    return next((k for k in container if k.lower() == name.lower()), name)


def _split_urn(path: str, extension_urns: list[str]) -> tuple[str | None, str]:
    """("urn…", "attr.sub") for an extension path, (None, "attr.sub") for the core schema."""
    lower = path.lower()
    for urn in extension_urns:
        if lower.startswith(urn.lower() + ":"):
            return urn, path[len(urn) + 1:]
        if lower == urn.lower():
            return urn, ""
    if lower.startswith("urn:"):
        return None, path.rsplit(":", 1)[1]  # core schema URN prefix
    return None, path


def _same_member(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict) and "value" in a and "value" in b:
        return a["value"] == b["value"]
    return a == b


def _merge_list(current: list, values: list) -> list:
    merged = list(current)
    for value in values:
        if not any(_same_member(value, existing) for existing in merged):
            merged.append(value)
    return merged


def _set(container: dict, name: str, value: object, op: str) -> None:
    key = _key(container, name)
    if op == "add" and isinstance(container.get(key), list):
        container[key] = _merge_list(container[key], value if isinstance(value, list) else [value])
    elif op == "add" and isinstance(container.get(key), dict) and isinstance(value, dict):
        container[key] = {**container[key], **value}
    else:
        container[key] = value


def _apply_filtered(container: dict, attr: str, filter_text: str, sub: str | None, op: str, value: object) -> None:
    conditions = parse_filter(filter_text)
    key = _key(container, attr)
    items = container.get(key) or []
    if not isinstance(items, list):
        raise invalid_path(f"“{attr}” is not multi-valued, so it cannot take a filter.")
    hits = [i for i, item in enumerate(items) if isinstance(item, dict) and matches(item, conditions)]
    if op == "remove":
        if sub:
            for i in hits:
                items[i].pop(_key(items[i], sub), None)
        else:
            items = [item for i, item in enumerate(items) if i not in hits]
        container[key] = items
        return
    if not hits:
        if op == "replace" and not sub:
            raise no_target(f"No value of “{attr}” matches [{filter_text}].")
        # Entra adds emails[type eq "work"].value when there is no work email yet: create it.
        new = {c.path: c.value for c in conditions if "." not in c.path}
        if sub:
            new[sub] = value
        elif isinstance(value, dict):
            new.update(value)
        container[key] = [*items, new]
        return
    for i in hits:
        if sub:
            items[i][_key(items[i], sub)] = value
        elif isinstance(value, dict):
            items[i] = {**items[i], **value} if op == "add" else value
        else:
            raise invalid_value(f"The value for “{attr}[…]” must be an object.")
    container[key] = items


def _apply_path(resource: dict, path: str, op: str, value: object, extension_urns: list[str]) -> None:
    urn, rest = _split_urn(path.strip(), extension_urns)
    container = resource
    if urn is not None:
        container = resource.setdefault(_key(resource, urn), {})
        if not rest:  # the whole extension object
            if op == "remove":
                resource.pop(_key(resource, urn), None)
            elif isinstance(value, dict):
                container.update(value) if op == "add" else resource.__setitem__(_key(resource, urn), value)
            return
    match = _PATH.match(rest)
    if match is None:
        raise invalid_path(f"Cannot read the path “{path}”.")
    attr, filter_text, sub = match["attr"], match["filter"], match["sub"]
    if filter_text:
        _apply_filtered(container, attr, filter_text, sub, op, value)
        return
    if sub:
        parent = container.get(_key(container, attr))
        if op == "remove":
            if isinstance(parent, dict):
                parent.pop(_key(parent, sub), None)
            return
        if not isinstance(parent, dict):
            parent = container[_key(container, attr)] = {}
        _set(parent, sub, value, op)
        return
    if op == "remove":
        key = _key(container, attr)
        if isinstance(value, list) and isinstance(container.get(key), list):
            # Entra: {"op": "Remove", "path": "members", "value": [{"value": "id"}]}
            container[key] = [item for item in container[key]
                              if not any(_same_member(item, gone) for gone in value)]
        else:
            container.pop(key, None)
        return
    _set(container, attr, value, op)


def apply_operations(resource: dict, body: object, *, extension_urns: list[str]) -> dict:
    """Apply a PatchOp body to a copy of the resource; raise ScimError 400s for what cannot apply."""
    if not isinstance(body, dict):
        raise invalid_syntax("The body must be a PatchOp object.")
    schemas = body.get("schemas") or []
    if PATCH_OP_SCHEMA not in schemas:
        raise invalid_syntax(f"The body's schemas must include {PATCH_OP_SCHEMA}.")
    operations = body.get("Operations", body.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise invalid_syntax("The body needs a non-empty “Operations” list.")
    result = _deep_copy(resource)
    for operation in operations:
        if not isinstance(operation, dict):
            raise invalid_syntax("Each operation must be an object.")
        op = str(operation.get("op", "")).lower()
        if op not in {"add", "replace", "remove"}:
            raise invalid_syntax(f"Unknown op “{operation.get('op')}”; use add, replace or remove.")
        path, value = operation.get("path"), operation.get("value")
        if path:
            if op != "remove" and "value" not in operation:
                raise invalid_syntax(f"The {op} operation on “{path}” needs a value.")
            _apply_path(result, str(path), op, value, extension_urns)
        elif op == "remove":
            raise no_target("A remove operation needs a path.")
        elif not isinstance(value, dict):
            raise invalid_syntax(f"An {op} operation without a path needs an object as its value.")
        else:
            for name, item in value.items():
                _apply_path(result, name, op, item, extension_urns)
    return result


def _deep_copy(value):
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value

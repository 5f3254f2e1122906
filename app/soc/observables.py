"""Observable normalisation: equal indicators must compare equal across alerts and sources."""

from __future__ import annotations

import functools
import ipaddress

from app.soc.models import ObservableKind

MAX_VALUE = 2048
_KINDS = {k.value: k for k in ObservableKind}
# Case carries no meaning in these; user names and URLs keep theirs (paths and some directories are case-sensitive).
_LOWER = {ObservableKind.DOMAIN, ObservableKind.HASH, ObservableKind.EMAIL, ObservableKind.HOST}


class ObservableError(ValueError):
    """An observable whose kind or value cannot be used."""


def normalise(kind: str, value: object) -> tuple[ObservableKind, str]:
    """Return the kind and canonical value, or raise ObservableError saying what is wrong."""
    obs_kind = _KINDS.get(str(kind).lower()) if kind is not None else None
    if obs_kind is None:
        raise ObservableError(f"unknown kind {kind!r}; use one of {', '.join(_KINDS)}")
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ObservableError("the value must be a string")
    text = str(value).strip()
    if not text:
        raise ObservableError("the value is empty")
    if len(text) > MAX_VALUE:
        raise ObservableError(f"the value is longer than {MAX_VALUE} characters")
    if obs_kind is ObservableKind.IP:
        try:
            text = _canonical_ip(text)
        except ValueError:
            raise ObservableError(f"{text[:60]!r} is not an IP address") from None
    elif obs_kind in _LOWER:
        text = text.lower().rstrip(".") if obs_kind in (ObservableKind.DOMAIN, ObservableKind.HOST) else text.lower()
    return obs_kind, text


@functools.lru_cache(maxsize=65536)
def _canonical_ip(text: str) -> str:
    # Parsing is most of the cost of mapping an event, and feeds repeat the same addresses all
    # day. Bad values raise, and raising is never cached.
    return ipaddress.ip_address(text).compressed


def unique(pairs: list[tuple[ObservableKind, str]]) -> list[tuple[ObservableKind, str]]:
    """Drop repeats, keeping the first occurrence (the first one is the primary observable)."""
    seen: set[tuple[ObservableKind, str]] = set()
    out = []
    for pair in pairs:
        if pair not in seen:
            seen.add(pair)
            out.append(pair)
    return out

"""Observable normalisation: equal indicators must compare equal across alerts and sources."""

from __future__ import annotations

import functools
import ipaddress
import re

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
    return normalise_known(obs_kind, value)


def normalise_known(obs_kind: ObservableKind, value: object) -> tuple[ObservableKind, str]:
    """`normalise` for a kind that is already an ObservableKind (OCSF mapping, per indicator)."""
    if isinstance(value, str):
        return _normalised_text(obs_kind, value) if len(value) <= _CACHED_LENGTH else _normalised(obs_kind, value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ObservableError("the value must be a string")
    return _normalised(obs_kind, str(value))


_CACHED_LENGTH = 256  # long values (URLs with query strings) rarely repeat and would bloat the cache


@functools.lru_cache(maxsize=16384)
def _normalised_text(obs_kind: ObservableKind, value: str) -> tuple[ObservableKind, str]:
    # A feed repeats the same hosts, users and addresses in event after event; errors raise and are never cached.
    return _normalised(obs_kind, value)


def _normalised(obs_kind: ObservableKind, value: str) -> tuple[ObservableKind, str]:
    text = value.strip()
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


# A dotted quad without leading zeros is already its own canonical form (what ipaddress would
# return): most feeds send only these, and parsing each one cost more than the rest of the mapping.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")


def _canonical_ip(text: str) -> str:
    return text if _IPV4.fullmatch(text) else _parsed_ip(text)


@functools.lru_cache(maxsize=65536)
def _parsed_ip(text: str) -> str:
    # Feeds repeat the same addresses all day. Bad values raise, and raising is never cached.
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

"""Line diff between two policy versions for the inline, server-rendered view (Jinja escapes every line)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

CONTEXT_LINES = 3


@dataclass(frozen=True)
class DiffLine:
    kind: str  # same | add | del | gap
    old_no: int | None
    new_no: int | None
    text: str


@dataclass(frozen=True)
class Diff:
    lines: list[DiffLine]
    added: int
    removed: int

    @property
    def is_empty(self) -> bool:
        return not self.added and not self.removed


def line_diff(old: str, new: str, *, context: int = CONTEXT_LINES) -> Diff:
    """Changed lines with a few lines of context around each change; long unchanged runs become a gap."""
    a, b = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    lines: list[DiffLine] = []
    added = removed = 0
    for index, group in enumerate(matcher.get_grouped_opcodes(context)):
        if index or (group and (group[0][1] > 0 or group[0][3] > 0)):
            lines.append(DiffLine("gap", None, None, ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                pairs = zip(range(i1, i2), range(j1, j2), strict=True)
                lines += [DiffLine("same", i + 1, j + 1, a[i]) for i, j in pairs]
                continue
            if tag in ("replace", "delete"):
                lines += [DiffLine("del", i + 1, None, a[i]) for i in range(i1, i2)]
                removed += i2 - i1
            if tag in ("replace", "insert"):
                lines += [DiffLine("add", None, j + 1, b[j]) for j in range(j1, j2)]
                added += j2 - j1
    return Diff(lines=lines, added=added, removed=removed)

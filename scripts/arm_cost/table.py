"""Plain-text tables: a title, notes, a header, rows and rule lines, columns sized to fit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Column:
    header: str
    format: str = ""  # format spec of numbers ("," for counts, ".3f" for ratios); columns with one align right
    unit: str = ""  # put after each number ("x")


RULE = None  # a row that is a rule line


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list[Any] | None] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(list(cells))

    def rule(self) -> None:
        self.rows.append(RULE)

    def __str__(self) -> str:
        cells = [[_cell(v, c) for v, c in zip(row, self.columns)] for row in self.rows if row is not RULE]
        widths = [max([len(c.header)] + [len(r[i]) for r in cells]) for i, c in enumerate(self.columns)]
        numeric = [bool(c.format) for c in self.columns]

        def line(texts: list[str]) -> str:
            return "  ".join(t.rjust(w) if num else t.ljust(w) for t, w, num in zip(texts, widths, numeric)).rstrip()

        rule = "-" * len(line([c.header for c in self.columns]))
        out = [self.title, *(f"  {n}" for n in self.notes), line([c.header for c in self.columns]), rule]
        body = iter(cells)
        out += [rule if row is RULE else line(next(body)) for row in self.rows]
        return "\n".join(out)


def _cell(value: Any, column: Column) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return format(value, column.format) + column.unit

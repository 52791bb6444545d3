"""The report: one table of figures, then one line per target."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    section: str
    measurement: str
    ours: str
    baseline: str = ""
    ratio: float | None = None
    ratio_label: str = ""  # e.g. "ours/raw"
    target: str = ""
    met: bool | None = None  # None: no target
    spread: str = ""  # the rounds' range, ours | baseline

    @property
    def ratio_text(self) -> str:
        if self.ratio is None:
            return ""
        return f"{self.ratio:.3g}"


@dataclass
class Verdict:
    name: str
    met: bool
    explanation: str
    check: bool = False  # a sanity check of our own, not one of the brief's targets


def table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells):
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def render(title: str, machine: list[tuple[str, str]], notes: list[str], rows: list[Row],
           verdicts: list[Verdict]) -> str:
    parts = [title, "=" * len(title), ""]
    width = max(len(k) for k, _ in machine)
    parts.append("Machine")
    parts += [f"  {k.ljust(width)}  {v}" for k, v in machine]
    parts.append("")
    sections: list[str] = []
    for row in rows:
        if row.section not in sections:
            sections.append(row.section)
    for section in sections:
        these = [r for r in rows if r.section == section]
        parts.append(section)
        body = [
            [r.measurement, r.ours, r.baseline, r.ratio_text, r.ratio_label, r.target,
             {True: "yes", False: "NO", None: ""}[r.met], r.spread]
            for r in these
        ]
        text = table(["measurement", "ours", "baseline", "ratio", "", "target", "met", "rounds (min..max)"],
                     body, right={1, 2, 3})
        parts += ["  " + line for line in text.splitlines()]
        parts.append("")
    targets = [v for v in verdicts if not v.check]
    checks = [v for v in verdicts if v.check]
    if targets:
        parts.append("Targets")
        for v in targets:
            parts.append(f"  [{'met' if v.met else 'MISSED'}] {v.name}: {v.explanation}")
    if checks:
        if targets:
            parts.append("")
        parts.append("Checks (ours, not in the brief)")
        for v in checks:
            parts.append(f"  [{'ok' if v.met else 'WARN'}] {v.name}: {v.explanation}")
    if notes:
        parts.append("")
        parts.append("Notes")
        parts += [f"  - {n}" for n in notes]
    return "\n".join(parts)

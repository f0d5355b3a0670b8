"""The one table `make bench` ends with: each benchmark records its measures here (measure, goal, figure,
verdict); figures that compare two timings are ratios measured in the same run, so they hold on a loaded machine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    bench: str
    measure: str
    goal: str
    figure: str
    verdict: str


RESULTS: list[Result] = []
_current = {"bench": ""}


def start(bench: str) -> None:
    _current["bench"] = bench


def record(measure: str, figure: str, *, goal: str = "", met: bool | None = None) -> None:
    """One row: ``met`` None when the measure has no goal (a figure to watch)."""
    verdict = "—" if met is None else ("met" if met else "NOT MET")
    RESULTS.append(Result(_current["bench"], measure, goal or "—", figure, verdict))


def failed(bench: str, error: BaseException) -> None:
    RESULTS.append(Result(bench, "ran to the end", "yes", f"{type(error).__name__}: {error}"[:120], "NOT MET"))


def table() -> str:
    header = ("benchmark", "measure", "goal", "figure", "verdict")
    rows = [header] + [(r.bench, r.measure, r.goal, r.figure, r.verdict) for r in RESULTS]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)

"""The results table (terminal and Markdown) and the JSON record of a run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness.loadgen import LoadResult


@dataclass
class Line:
    round: int
    scenario: str
    title: str
    expected_status: int
    result: LoadResult
    ratio: float | None  # req/s relative to /healthz in the same round
    target: str | None = None
    target_met: bool | None = None
    problems: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def app_cpu_ms(self) -> float | None:
        """CPU the gunicorn workers spent per request: steadier than req/s on a shared box."""
        cores = self.extra.get("cpu_cores", {}).get("app")
        return cores * 1000 / self.result.rps if cores and self.result.rps else None

    def _ratio_cell(self) -> str:
        paired = self.extra.get("healthz_rps_paired")
        text = f"{self.ratio:.0%}"
        return f"{text} of {paired:,.0f}" if paired else text

    def cells(self) -> list[str]:
        r = self.result
        cpu = self.app_cpu_ms
        verdict = "" if self.target_met is None else ("met" if self.target_met else "MISSED")
        return [
            str(self.round),
            self.title,
            f"{r.rps:,.0f}",
            f"{r.latency_ms['p50']:.1f}",
            f"{r.latency_ms['p99']:.1f}",
            str(r.unexpected(self.expected_status)),
            "" if cpu is None else f"{cpu:.2f}",
            "" if self.ratio is None else self._ratio_cell(),
            f"{self.target} {verdict}".strip() if self.target else "",
            "ok" if not self.problems else "FAILED",
        ]


HEADERS = [
    "round",
    "scenario",
    "req/s",
    "p50 ms",
    "p99 ms",
    "non-2xx*",
    "app CPU ms/req**",
    "vs /healthz",
    "target",
    "checks",
]


def text_table(lines: list[Line]) -> str:
    rows = [HEADERS, *(line.cells() for line in lines)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(lines: list[Line]) -> str:
    out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    out += ["| " + " | ".join(line.cells()) + " |" for line in lines]
    return "\n".join(out)


FOOTNOTE = (
    "*non-2xx: responses other than the status the scenario expects (201 for answers, 200 for "
    "reads, 304 for the If-None-Match line), plus socket errors. The /healthz row sums the "
    "/healthz slices run alternately with the scenarios of its round; each ratio is to the "
    "/healthz slices paired with that scenario (their req/s after 'of'). p50: request-weighted "
    "mean of the slices; p99: the worst slice.\n"
    "**CPU time of the gunicorn workers (from /proc) divided by the requests served: what a "
    "request costs the app, which varies less than req/s when others load the machine."
)


def write_results(
    folder: Path, stem: str, lines: list[Line], facts: dict[str, Any], notes: list[str]
) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    markdown = folder / f"{stem}.md"
    record = folder / f"{stem}.json"
    facts_md = "\n".join(f"- {k}: {v}" for k, v in facts.items())
    notes_md = "\n".join(f"- {n}" for n in notes)
    markdown.write_text(
        f"# Benchmark run {stem}\n\n{markdown_table(lines)}\n\n{FOOTNOTE}\n\n"
        f"## Set-up\n{facts_md}\n" + (f"\n## Notes\n{notes_md}\n" if notes else ""),
        encoding="utf-8",
    )
    record.write_text(
        json.dumps(
            {
                "facts": facts,
                "notes": notes,
                "lines": [
                    {
                        "round": line.round,
                        "scenario": line.scenario,
                        "title": line.title,
                        "ratio_to_healthz": None if line.ratio is None else round(line.ratio, 3),
                        "app_cpu_ms_per_request": None
                        if line.app_cpu_ms is None
                        else round(line.app_cpu_ms, 3),
                        "target": line.target,
                        "target_met": line.target_met,
                        "problems": line.problems,
                        **line.result.as_dict(),
                        **line.extra,
                    }
                    for line in lines
                ],
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    return markdown, record

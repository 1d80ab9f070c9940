"""What a class's saved reports found: how many reports had each diagnosis, with one example.

A teacher collects the students' reports (`nbgrad check --json`, `report.to_json()`) and asks
which mistakes the class makes most. Counting happens here, once; `render/tally.py` formats it as
text, HTML and a small bar chart.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from nbgrad.diagnose.catalogue import CATALOGUE
from nbgrad.diagnose.diagnosis import SEVERITY_ORDER
from nbgrad.report import Report


@dataclass
class Count:
    code: str
    slug: str
    severity: str  # the most severe it had in any report
    reports: int  # how many reports have it
    example: str  # one report's line: "alice.json, line 4: Gradients accumulate ..."


@dataclass
class Tally:
    reports: int
    counts: list[Count]  # most frequent first
    clean: int  # reports with no problem (errors or warnings)
    unreadable: list[str] = field(default_factory=list)  # "bob.json: not an nbgrad report (...)"


def load(paths: Sequence[str]) -> tuple[list[tuple[str, Report]], list[str]]:
    """Reports read from JSON files, and a line for each file that is not one."""
    found, bad = [], []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                found.append((os.path.basename(path), Report.from_json(handle.read())))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            bad.append(f"{os.path.basename(path)}: not an nbgrad report "
                       f"({type(error).__name__}: {error})")
    return found, bad


def tally(named: Sequence[tuple[str, Report]], unreadable: Sequence[str] = ()) -> Tally:
    """Per code: in how many reports it was found (once per report), its worst severity, and the
    first report's diagnosis as the example."""
    by_code: dict[str, Count] = {}
    clean = 0
    for name, report in named:
        if not report.problems:
            clean += 1
        for code in dict.fromkeys(d.code for d in report.diagnoses):
            d = next(x for x in report.diagnoses if x.code == code)
            count = by_code.get(code)
            if count is None:
                where = f", line {d.line}" if d.line else ""
                slug = CATALOGUE[code].slug if code in CATALOGUE else d.slug
                by_code[code] = Count(code, slug, d.severity, 1, f"{name}{where}: {d.title}")
                continue
            count.reports += 1
            if SEVERITY_ORDER[d.severity] < SEVERITY_ORDER[count.severity]:
                count.severity = d.severity
    counts = sorted(by_code.values(),
                    key=lambda c: (-c.reports, SEVERITY_ORDER[c.severity], c.code))
    return Tally(reports=len(named), counts=counts, clean=clean, unreadable=list(unreadable))

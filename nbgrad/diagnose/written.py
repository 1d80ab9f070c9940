"""Diagnoses in the student's own names: `'model[0]'` where the records say `'0'`.

Rules work with the recorded names (stable keys, the same in every run and in JSON); the words a
student reads name each layer and parameter as it is written in the cell (`model[0]`,
`model.fc1.weight`), from `Run.written`. Applied once, after every rule, so no rule has to know.
"""

from __future__ import annotations

import re

from nbgrad.diagnose.diagnosis import Diagnosis
from nbgrad.records import Run


def _patterns(run: Run) -> list[tuple[re.Pattern[str], str]]:
    out = []
    for name, written in sorted(run.written.items(), key=lambda kv: -len(kv[0])):
        out.append((re.compile(re.escape(f"'{name}'")), f"'{written}'"))
        if "." in name:  # a parameter named in a list (`1.weight, 1.bias got gradients`)
            out.append((re.compile(rf"(?<![\w.\[\]'`]){re.escape(name)}(?![\w\[(`'])"), written))
    return out


def rename(text: str, patterns: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, written in patterns:
        text = pattern.sub(written.replace("\\", "\\\\"), text)  # the name as is, no escapes
    return text


def as_written(run: Run, diagnoses: list[Diagnosis]) -> None:
    """Each diagnosis's words (title, evidence, why, fix; never the fix's code) in the names the
    user writes."""
    patterns = _patterns(run)
    if not patterns:
        return
    for d in diagnoses:
        d.title = rename(d.title, patterns)
        d.why = rename(d.why, patterns)
        d.fix = rename(d.fix, patterns)
        for e in d.evidence:
            e.text = rename(e.text, patterns)

"""The diagnosis corpus (benchmarks/diagnosis/) is well formed and its scorer counts right.

nbgrad's detection rate on the corpus is reported by score.py, not asserted here: the rules change,
the corpus measures them. What is asserted: every case file is valid, a sample of fixes really
trains better than their bugs, the quick subset runs through the scorer, and the counting (right
cause, right line, wrong cause, crashes, false alarms) is exact on cases whose outcome is fixed.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

DIAGNOSIS = Path(__file__).resolve().parents[1] / "benchmarks" / "diagnosis"
NBGRAD = Path(__file__).resolve().parents[1] / "nbgrad"


@pytest.fixture(scope="module", autouse=True)
def _importable():
    """score.py and its modules import each other by name, as when run as a script."""
    sys.path.insert(0, str(DIAGNOSIS))
    yield
    sys.path.remove(str(DIAGNOSIS))
    for name in ("score", "corpus", "causes"):
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def score():
    import score as module

    return module


@pytest.fixture(scope="module")
def cases():
    import corpus

    return corpus.load()


# -- the format of the corpus ---------------------------------------------------------------------
def test_every_case_file_is_valid(cases):
    import corpus

    invalid = {c.id: p for c in cases if (p := corpus.problems(c))}
    assert not invalid, invalid


def test_the_corpus_covers_what_the_issue_asks(cases):
    bugs = [c for c in cases if c.kind == "bug"]
    assert len(bugs) >= 80
    assert len({c.cause for c in bugs}) >= 35
    assert all(c.fields["SOURCE"].startswith("https://") for c in cases)


def test_the_catalogue_names_real_codes_and_every_cause_has_a_case(cases):
    from causes import CAUSES, FAMILIES

    declared = set()
    for path in (NBGRAD / "diagnose").rglob("*.py"):
        declared |= set(re.findall(r'"(NBG\d{3})"', path.read_text()))
    for slug, cause in CAUSES.items():
        assert cause.family in FAMILIES, slug
        assert set(cause.codes) <= declared, (slug, set(cause.codes) - declared)
    assert {c.cause for c in cases if c.kind == "bug"} == set(CAUSES)


def test_the_format_check_finds_each_kind_of_mistake(tmp_path):
    import corpus

    (tmp_path / "bugs").mkdir()
    path = tmp_path / "bugs" / "broken.py"
    path.write_text(textwrap.dedent('''\
        """Two lines
        of docstring."""
        SOURCE = "http://example.org"
        CAUSE = "no-such-cause"
        CELL = "a = 1\\nb = 2\\n"
        FIX = "a = 1\\nb = 3\\n"
        FIX_LINES = [1, 7]
        STEPS = 5 * 2
    '''))
    found = " | ".join(corpus.problems(corpus.read(path)))
    assert found == "STEPS must be written as a literal, not computed"
    path.write_text(path.read_text().replace("STEPS = 5 * 2", "STEPS = 10"))
    found = " | ".join(corpus.problems(corpus.read(path)))
    for expected in ("docstring must be one line", "SOURCE must be", "CAUSE 'no-such-cause'",
                     "FIX_LINES must be CELL line numbers in 1..2"):
        assert expected in found
    path.write_text(path.read_text().replace("FIX_LINES = [1, 7]", "FIX_LINES = [1]"))
    assert "are not where FIX changes CELL (changed: [2])" in " ".join(corpus.problems(corpus.read(path)))


def test_touched_lines_counts_both_neighbours_of_an_insertion():
    import corpus

    assert corpus.touched_lines("a\nb\nc", "a\nx\nb\nc") == {1, 2}
    assert corpus.touched_lines("a\nb\nc", "a\nc") == {2}
    assert corpus.touched_lines("a\nb\nc", "a\nB\nc") == {2}


# -- the criterion of --verify-fixes -------------------------------------------------------------
def _run(losses, raised=None, held=None):
    return {"raised": raised, "losses": losses, "held": held,
            "finite": all(v == v and abs(v) != float("inf") for v in losses)}


def test_fix_verdict(score):
    falling = _run([2.0, 1.5, 1.0, 0.8, 0.6, 0.5])
    flat = _run([2.0, 2.0, 1.9, 2.0, 1.95, 1.9])
    assert score.fix_verdict(_run([2.0], raised="RuntimeError: boom"), falling)[0]
    assert not score.fix_verdict(falling, _run([2.0], raised="RuntimeError: boom"))[0]
    assert score.fix_verdict(_run([2.0, float("nan")]), falling)[0]
    assert score.fix_verdict(flat, falling)[0]
    assert not score.fix_verdict(falling, falling)[0]  # no better: not a fix
    # a fix must at least make its own loss fall, whatever the bug did
    assert not score.fix_verdict(_run([2.0], raised="X: y"), _run([1.0, 1.2, 1.3]))[0]
    assert score.fix_verdict(_run([2.0, 1.0], held=0.5), _run([2.0, 1.5], held=0.3))[0]
    assert not score.fix_verdict(_run([2.0, 1.0], held=0.5), _run([2.0, 1.5], held=0.45))[0]


def test_a_sample_of_fixes_trains_clearly_better(score, capsys):
    sample = ["linear_in_features_cnn", "softmax_ce_mlp_digits"]
    assert score.main(["--verify-fixes", "--only", *sample]) == 0, capsys.readouterr().out
    assert "2/2 fixes train clearly better" in capsys.readouterr().out


# -- the scorer ----------------------------------------------------------------------------------
def _diag(code, severity="error", line=None):
    return {"code": code, "severity": severity, "line": line, "title": code}


def test_counting_on_synthetic_results(score, tmp_path, monkeypatch):
    import corpus
    from causes import CAUSES, Cause

    # a cause of the data family that no rule names (whichever real causes have codes today)
    monkeypatch.setitem(CAUSES, "no-rule-yet", Cause("data", "a cause no rule names yet"))

    (tmp_path / "bugs").mkdir()
    (tmp_path / "correct").mkdir()

    def write(kind, name, fields):
        (tmp_path / kind / f"{name}.py").write_text(
            '"""A case."""\n' + "".join(f"{k} = {v!r}\n" for k, v in fields.items()))
        return corpus.read(tmp_path / kind / f"{name}.py")

    bug = {"SOURCE": "https://x", "CAUSE": "missing-zero-grad", "CELL": "a\nb\nc",
           "FIX": "a\nB\nc", "FIX_LINES": [2]}
    hit = write("bugs", "hit", bug)
    near = write("bugs", "near", bug)
    wrong = write("bugs", "wrong", {**bug, "CAUSE": "no-rule-yet"})
    crash = write("bugs", "crash", bug)
    clean = write("correct", "clean", {"SOURCE": "https://x", "PROGRAM": "p", "CELL": "a"})
    alarm = write("correct", "alarm", {"SOURCE": "https://x", "PROGRAM": "p", "CELL": "a"})
    judged = [
        score.judge_bug(hit, {"diagnoses": [_diag("NBG301", line=2), _diag("NBG701", "info")]}),
        score.judge_bug(near, {"diagnoses": [_diag("NBG301", "warning", line=5), _diag("NBG403")]}),
        score.judge_bug(wrong, {"diagnoses": [_diag("NBG602", "warning", line=2)]}),
        score.judge_bug(crash, {"worker_error": "worker exited -9"}),
        score.judge_correct(clean, {"diagnoses": [_diag("NBG304", "info")]}),
        score.judge_correct(alarm, {"diagnoses": [_diag("NBG851", "warning", line=1)]}),
    ]
    summary = score.summarise(judged)
    assert summary["overall"] == {"cases": 4, "right_cause": 2, "right_line": 1,
                                  "cases_with_wrong_cause": 2, "wrong_cause_diagnoses": 2,
                                  "wrong_cause_errors": 1, "crashes": 1}
    assert summary["families"]["clearing"]["right_cause"] == 2
    assert summary["families"]["data"] == {"cases": 1, "right_cause": 0, "right_line": 0,
                                           "cases_with_wrong_cause": 1, "wrong_cause_diagnoses": 1,
                                           "wrong_cause_errors": 0, "crashes": 0}
    assert summary["needs"] == {"better line": ["bugs/near"], "new rule": ["bugs/wrong"],
                                "crash fix": ["bugs/crash"]}
    assert summary["correct"] == {"cases": 2, "clean": 1, "false_alarms": 1, "crashes": 0}
    assert summary["causes_without_code"] == ["no-rule-yet"]


def test_held_out_cases_are_counted_apart(score, tmp_path):
    import corpus

    (tmp_path / "bugs").mkdir()
    (tmp_path / "correct").mkdir()
    bug = ('"""A case."""\nSOURCE = "https://x"\nCAUSE = "missing-zero-grad"\nCELL = "a\\nb"\n'
           'FIX = "a\\nB"\nFIX_LINES = [2]\n')
    (tmp_path / "bugs" / "seen.py").write_text(bug)
    (tmp_path / "bugs" / "unseen.py").write_text(bug + 'HELD_OUT = "2026-11-30"\n')
    (tmp_path / "bugs" / "undated.py").write_text(bug + 'HELD_OUT = "after the rules"\n')
    (tmp_path / "correct" / "loop.py").write_text(
        '"""A loop."""\nSOURCE = "https://x"\nPROGRAM = "p"\nCELL = "a"\nHELD_OUT = "2026-11-30"\n')
    seen, undated, unseen, loop = (corpus.read(p) for p in (
        tmp_path / "bugs" / "seen.py", tmp_path / "bugs" / "undated.py",
        tmp_path / "bugs" / "unseen.py", tmp_path / "correct" / "loop.py"))
    assert not seen.held_out and unseen.held_out and loop.held_out
    assert corpus.problems(unseen) == [] and corpus.problems(loop) == []
    assert corpus.problems(undated) == ["HELD_OUT must be the date the case was added, as YYYY-MM-DD"]
    summary = score.summarise([
        score.judge_bug(seen, {"diagnoses": [_diag("NBG301", line=2)]}),
        score.judge_bug(unseen, {"diagnoses": [_diag("NBG403", line=2)]}),
        score.judge_correct(loop, {"diagnoses": [_diag("NBG851", "warning")]}),
    ])
    assert summary["overall"]["right_cause"] == 1
    held = summary["held_out"]
    assert held["bugs"]["cases"] == 1 and held["bugs"]["right_cause"] == 0
    assert held["bugs"]["wrong_cause_errors"] == 1 and held["causes"] == 1
    assert held["correct"] == {"cases": 1, "clean": 0, "false_alarms": 1, "crashes": 0}
    assert score._select([seen, unseen, loop], quick=False, only=None, held_out=True) == [unseen, loop]


def test_a_case_that_kills_its_process_does_not_stop_the_run(score, tmp_path, capsys):
    (tmp_path / "bugs").mkdir()
    (tmp_path / "correct").mkdir()
    shared = ('SOURCE = "https://example.org/report"\nCAUSE = "linear-shape-mismatch"\n'
              "FIX_LINES = [2]\n")
    (tmp_path / "bugs" / "exits.py").write_text(
        '"""The cell ends the interpreter."""\n' + shared
        + "CELL = 'import os\\nos._exit(3)'\nFIX = 'import os'\n")
    (tmp_path / "bugs" / "shapes.py").write_text(
        '"""A Linear layer with the wrong in_features."""\n' + shared
        + "CELL = 'import torch\\nm = torch.nn.Linear(3, 1)\\nopt = torch.optim.SGD(m.parameters(), lr=1)"
          "\\nm(torch.randn(4, 5)).sum().backward()'\n"
        + "FIX = 'import torch\\nm = torch.nn.Linear(5, 1)\\nopt = torch.optim.SGD(m.parameters(), lr=1)"
          "\\nm(torch.randn(4, 5)).sum().backward()'\n")
    (tmp_path / "correct" / "loop.py").write_text(
        '"""A three-step regression."""\nSOURCE = "https://example.org/tutorial"\nPROGRAM = "tiny"\n'
        "CELL = 'import torch\\nm = torch.nn.Linear(2, 1)\\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\\n"
        "x, y = torch.randn(16, 2), torch.randn(16, 1)\\nfor _ in range(3):\\n"
        "    opt.zero_grad(); torch.nn.functional.mse_loss(m(x), y).backward(); opt.step()'\nSTEPS = 3\n")
    out = tmp_path / "score.json"
    assert score.main(["--cases", str(tmp_path), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    by_id = {c["id"]: c for c in result["cases"]}
    assert by_id["bugs/exits"]["crash"] and "worker exited" in by_id["bugs/exits"]["crash_reason"]
    assert not by_id["bugs/shapes"]["crash"]
    assert by_id["bugs/shapes"]["raised"].startswith("RuntimeError: mat1 and mat2 shapes")
    assert not by_id["correct/loop"]["crash"]
    # the figures are the sums of the per-case judgements, recomputed here from the diagnoses
    import corpus

    cases = {c.id: c for c in corpus.load(tmp_path)}
    for case_id, judged in by_id.items():
        again = (score.judge_bug if judged["kind"] == "bug" else score.judge_correct)(
            cases[case_id], {"diagnoses": judged.get("diagnoses", []),
                             "worker_error": judged["crash_reason"]} if judged["crash"]
            else {"diagnoses": judged.get("diagnoses", []), "raised": judged["raised"]})
        for key in ("right_cause", "right_line", "wrong_cause", "false_alarms"):
            assert again.get(key) == judged.get(key), (case_id, key)
    assert result["summary"] == score.summarise(list(by_id.values()))


def test_the_quick_subset_runs_through_the_scorer(score, tmp_path):
    out = tmp_path / "quick.json"
    assert score.main(["--quick", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    ran = {c["id"] for c in result["cases"]}
    assert set(score.QUICK) <= ran
    assert result["summary"]["overall"]["cases"] == len(score.QUICK)
    assert not [c["id"] for c in result["cases"] if c["crash"] and "worker" in (c["crash_reason"] or "")]

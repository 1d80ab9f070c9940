"""Plain words: every column a view shows has its meaning (and a healthy range where one exists),
every diagnosis code says why it matters and links a docs page that exists, and numbers outside
their healthy range are said in words, not only in colour."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

from nbgrad.diagnose.catalogue import CATALOGUE, FAMILIES
from nbgrad.diagnose.glossary import (
    TERMS,
    WHY_IT_MATTERS,
    docs_page,
    reading,
    term,
    undocumented,
)
from nbgrad.render import columns
from nbgrad.render.widget import Dashboard
from tests import zoo_runs
from tests.rendered import NoFigures, html_tables, text_tables

ROOT = Path(__file__).resolve().parents[1]
RUNS = ["classic", "gan", "adamw_clip", "no_zero_grad", "sigmoid_deep", "lr_zero"]


def test_every_code_says_why_it_matters_in_two_sentences_and_has_a_page():
    assert undocumented() == []
    for code, words in WHY_IT_MATTERS.items():
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", words.strip()) if s]
        assert 1 <= len(sentences) <= 2, (code, sentences)
        assert "NBG" not in words and "issue" not in words.lower()
    for code in CATALOGUE:
        assert (ROOT / docs_page(code)).exists(), docs_page(code)
    for f in FAMILIES:
        page = (ROOT / "docs" / "rules" / f"{f.prefix}.md").read_text()
        for code in CATALOGUE:
            if code.startswith(f.prefix) and docs_page(code).endswith(f"/{f.prefix}.md"):
                assert f"## {code}" in page and WHY_IT_MATTERS[code] in page


def test_every_column_declared_once_has_a_meaning():
    declared = [c.title for table in (columns.LAYER, columns.PARAM, columns.UNMOVED, columns.LOSS,
                                      columns.ACTIVATION, columns.TRIALS, columns.RATES)
                for c in table]
    assert [t for t in declared if term(t) is None] == []


@pytest.mark.parametrize("name", RUNS)
def test_every_header_in_text_html_and_widget_is_explained(name):
    report = zoo_runs.report(name)
    text = report.to_text(advanced=True)
    headers = {h for rows in text_tables(text).values() for h in rows[0]}
    assert headers and [h for h in headers if term(h) is None] == []
    # the text's legend says each one: the meaning of the update/param column, with its range
    legend = text.split("What the columns mean\n", 1)[1]
    assert "update/param: how large this step was compared to the weights" in legend
    assert "Healthy: about 0.001 (0.1 % per step; Karpathy, CS231n)" in legend
    # the HTML: every <th> carries its meaning as a tooltip, and a folded legend repeats them
    html = report.to_html(figures=False)
    for title in {h for rows in html_tables(html).values() for h in rows[0]}:
        assert f'title="{term(title).line()}"' in unescape(html), title
    assert "<summary>What the columns mean</summary>" in html
    # the widget: the sortable tables' headers have the same tooltips
    dash = Dashboard(report, NoFigures(report))
    body = unescape(dash.tab("Gradients").table.body.value)
    assert f'<th class="num" title="{TERMS["grad norm"].line()}">grad norm' in body
    assert "What the columns mean" in dash.legend.value
    dash.close()


def test_a_number_outside_its_healthy_range_is_said_in_words():
    # 0.039 (4 %) is large but under the 10 % the learning-rate rules call too large: the
    # legend explains it, no word flags it, so the words never contradict the diagnoses
    assert reading("update/param", 0.039, "model[0]") is None
    assert reading("update/param", 0.5, "model[0]") == (
        "update/param 0.5 on model[0] is very large: this step changed its weights by about "
        "50 %; a typical step changes them by about 0.1 %.")
    assert reading("update/param", 1e-3, "fc") is None  # healthy: nothing to say
    assert "is very small" in reading("update/param", 1e-7, "fc")
    # in the report: no_zero_grad's last step changes layer 0 by 84 %, said under the table,
    # and the cell is tinted with the word in its tooltip (never colour alone)
    report = zoo_runs.report("no_zero_grad")
    table_notes = report.to_text().split("Layers at step 9:", 1)[1]
    assert "(update/param 0.842 on model[0] is very large: this step changed its weights by about 84 %" \
        in table_notes
    assert 'class="num nbgrad-high" title="very large; healthy: about 0.001' in \
        report.to_html(figures=False)
    dash = Dashboard(report, NoFigures(report))
    assert "0.842 (very large)" in dash.tab("Gradients").table.body.value
    assert "is very large" in dash.tab("Gradients").readings.value
    dash.close()


def test_advanced_detail_is_folded_away_by_default():
    report = zoo_runs.report("adamw_clip")
    text, advanced = report.to_text(), report.to_text(advanced=True)
    assert "AdamW 'opt': state" not in text_tables(text)
    assert "betas" not in text and "exp_avg" not in text
    assert "report.to_text(advanced=True)" in text
    assert "AdamW 'opt': state" in text_tables(advanced) and "betas" in advanced
    html = report.to_html(figures=False)
    folded = html.split("<details><summary>Advanced:", 1)[1].split("</details>", 1)[0]
    assert "exp_avg" in folded and "betas" in folded


def test_every_diagnosis_in_every_view_has_why_it_matters_and_its_page():
    report = zoo_runs.report("no_zero_grad")
    assert [d.code for d in report.diagnoses] == ["NBG301"]
    text = report.to_text()
    assert f"    why it matters: {WHY_IT_MATTERS['NBG301']}" in text
    assert "    more: docs/rules/NBG3.md" in text
    html = unescape(report.to_html(figures=False))
    assert f"<i>Why it matters:</i> {WHY_IT_MATTERS['NBG301']}" in html
    dash = Dashboard(report, NoFigures(report))
    (row,) = dash.rows
    assert WHY_IT_MATTERS["NBG301"] in unescape(row.summary.value)  # seen without opening it
    assert "More: docs/rules/NBG3.md" in row.text.value
    dash.close()


def test_the_ranks_table_of_a_torchrun_job_is_explained_too():
    from nbgrad.records import RankRecord, Run
    from nbgrad.render import ranks

    run = Run(source="", first_line=1, steps_requested=3, timeout_s=60, stopped_by="steps",
              elapsed_s=1.0, ranks=[RankRecord(rank=0, world_size=2, steps_taken=3),
                                    RankRecord(rank=1, world_size=2, steps_taken=2)])
    table = ranks.rank_table(run)
    assert table.header[:2] == ["rank", "steps"]
    assert [h for h in table.header if term(h) is None] == []
    assert [h for h in ranks._columns(run) if term(h) is None] == []

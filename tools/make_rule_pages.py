"""Write docs/rules/: one short page per family of diagnoses, in plain words, with a picture.

Each page lists its codes from the catalogue with "why it matters" from the glossary, so a page
cannot drift from what the reports say; the picture is the figure nbgrad itself draws for the
family's first broken loop in the test zoo (the loss curve, or the gradient heat map for the
families about gradients across depth), so it shows exactly what a student sees.

    python tools/make_rule_pages.py            # pages and pictures
    python tools/make_rule_pages.py --no-pictures
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbgrad.diagnose.catalogue import CATALOGUE, FAMILIES, family  # noqa: E402
from nbgrad.diagnose.glossary import DOCS, why_it_matters  # noqa: E402

OUT = ROOT / DOCS
# which of nbgrad's own figures shows a family best (default: the loss per step)
PICTURE = {"NBG50": "heatmap", "NBG55": "heatmap", "NBG60": "activations", "NBG1": "heatmap",
           "NBG2": "heatmap"}


def page(prefix: str, picture: str | None) -> str:
    about = next(f.about for f in FAMILIES if f.prefix == prefix)
    codes = [c for c in CATALOGUE.values() if family(c.code).prefix == prefix]
    lines = [f"# {prefix}xx: {about}", "",
             "Written by tools/make_rule_pages.py from nbgrad's catalogue and glossary: the same "
             "words the reports show.", ""]
    if picture:
        lines += [f"![nbgrad's figure for {prefix}xx](img/{prefix}.png)", "",
                  f"*{picture}*", ""]
    for c in codes:
        severities = " or ".join(c.severities)
        lines += [f"## {c.code} `{c.slug}` ({severities})", "", f"**{c.about[:1]}"
                  f"{c.about[1:]}.**", "", why_it_matters(c.code), ""]
    lines += ["Each report gives the measured numbers behind a diagnosis (its evidence), the line "
              "of your cell where the fix belongs, and, with `--verify`, whether the fix worked.", ""]
    return "\n".join(lines)


def draw(prefix: str) -> tuple[bytes, str] | None:
    """nbgrad's own figure of the family's first broken zoo loop, and a caption."""
    from nbgrad.render.figures import FigureSet
    from tests import zoo, zoo_runs

    for name, broken in sorted(zoo.BROKEN.items(), key=lambda kv: kv[1].code):
        if family(broken.code).prefix != prefix or broken.raises:
            continue
        report = zoo_runs.report(name)
        kind = PICTURE.get(prefix, "loss")
        data = FigureSet(report).get(kind)
        if data is not None:
            caption = (f"The {kind} nbgrad draws for the zoo's loop '{name}' ({broken.code}); "
                       f"the report says: {report.verdict}")
            return data, caption
    return None


def main(pictures: bool = True) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "img").mkdir(exist_ok=True)
    for f in FAMILIES:
        caption = None
        if pictures:
            drawn = draw(f.prefix)
            if drawn is not None:
                data, caption = drawn
                (OUT / "img" / f"{f.prefix}.png").write_bytes(data)
        elif (OUT / "img" / f"{f.prefix}.png").exists():
            caption = "nbgrad's figure of the family's zoo loop"
        text = page(f.prefix, caption)
        (OUT / f"{f.prefix}.md").write_text(text)
    print(f"wrote {len(FAMILIES)} pages to {OUT}")


if __name__ == "__main__":
    main(pictures="--no-pictures" not in sys.argv)

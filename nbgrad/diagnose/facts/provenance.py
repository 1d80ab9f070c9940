"""Where the tensors of the watched iterations came from: the graph cuts the loss went through,
what backward() was called on, and where a line outside the cell is.

The probe recorded these as they happened, so a rule names the `.detach()` the loss really went
through, not the first line of the cell that reads like a cut (a `digits.data` of a dataset, a
`torch.tensor` of constants). When a run has no such records (a report saved by an older
version), the rules fall back to reading the cell's text (`graph_breaks`).
"""

from __future__ import annotations

import re

from nbgrad.diagnose.facts.words import layer_names
from nbgrad.records import BackwardCall, GraphCut, Run

__all__ = [
    "CUT_CONTEXTS",
    "EXPLICIT_CUTS",
    "backward_calls",
    "cut_fix",
    "cut_text",
    "in_forward",
    "loss_cuts",
    "place",
    "probe_watched",
    "rebuilt_loss",
    "zero_derivative_cuts",
]

# cuts a user writes to take a value out of autograd; the others (argmax, a comparison) are
# operations without a gradient that the loss happened to go through
EXPLICIT_CUTS = (".detach()", ".data", ".item()", ".numpy()", ".tolist()", "float()", "int()", "numpy",
            "torch.no_grad()", "torch.inference_mode()")
# calls that make a tensor from plain numbers: a loss made by one has no history at all
FACTORIES = {"tensor", "as_tensor", "from_numpy", "scalar_tensor", "asarray", "Tensor"}
CUT_CONTEXTS = ("torch.no_grad()", "torch.inference_mode()")


def probe_watched(run: Run) -> bool:
    """The probe watched at least one iteration (so its silence about cuts means something)."""
    return bool(run.forward.windows) and run.forward.error is None


def _rank(cut: GraphCut) -> int:
    return 0 if cut.kind in EXPLICIT_CUTS else 1 if not cut.zero_derivative else 2


def cut_fix(run: Run, cut: GraphCut) -> str:
    """What to change at a cut, in words."""
    at = place(run, cut.line, cut.where)
    if cut.kind in EXPLICIT_CUTS:
        return (f"Remove the {cut.kind} at {at}: compute the loss from the model's output with "
                "torch operations only, and take .item() only to print.")
    return (f"Compute the loss from the scores themselves, not from {cut.kind} at {at}, which "
            "has no gradient: a classification loss (cross_entropy) over the scores trains what "
            f"{cut.kind} would pick.")


def backward_calls(run: Run) -> list[BackwardCall]:
    return list(run.forward.backwards)


def loss_cuts(run: Run, unreached: bool = False) -> list[GraphCut]:
    """The cuts the loss went through, most telling first.

    First the cuts that the tensor backward() was called on descends from; when it descends
    from none the probe saw (rebuilt from plain numbers with torch.tensor, or by a call the probe
    does not see, like Variable(...)), the cuts made since the backward() before it.

    `unreached`: no parameter got a gradient, so a loss that does have a graph has it only from a
    tensor of its own (`total = torch.zeros((), requires_grad=True)` plus `.item()` values): the
    cuts made before it in the same iteration, on lines above the backward(), are where the
    model's values left autograd. The line condition leaves out an `.item()` that logs the
    previous iteration's loss.
    """
    cuts = run.forward.cuts
    through = sorted({i for b in run.forward.backwards for i in b.cuts if 0 <= i < len(cuts)})
    found = [cuts[i] for i in through if not cuts[i].zero_derivative]
    if not found:
        rebuilt = [b for b in run.forward.backwards if not b.has_graph and not b.cuts]
        before = sorted({i for b in rebuilt for i in b.cuts_before if 0 <= i < len(cuts)})
        found = [cuts[i] for i in reversed(before) if not cuts[i].zero_derivative]
    if not found and unreached:
        own = [b for b in run.forward.backwards if b.has_graph and not b.cuts]
        before = sorted({i for b in own for i in b.cuts_before if 0 <= i < len(cuts)
                         and _above(cuts[i].line, b.line)})
        found = [cuts[i] for i in reversed(before) if not cuts[i].zero_derivative]
    return sorted(found, key=_rank)


def _above(line: int | None, backward_line: int | None) -> bool:
    return line is not None and backward_line is not None and line < backward_line


def zero_derivative_cuts(run: Run) -> list[GraphCut]:
    """round/floor/sign calls the loss went through: it reaches the weights with a gradient of 0."""
    cuts = run.forward.cuts
    through = sorted({i for b in run.forward.backwards for i in b.cuts if 0 <= i < len(cuts)})
    return [cuts[i] for i in through if cuts[i].zero_derivative]


def rebuilt_loss(run: Run) -> BackwardCall | None:
    """A backward() on a tensor made from plain numbers (torch.tensor(loss.item()))."""
    return next((b for b in run.forward.backwards
                 if not b.has_graph and b.made_by in FACTORIES), None)


def place(run: Run, line: int | None, where: str = "") -> str:
    """`line 15 \\`code = ...\\``, or the file and line when the code ran outside the cell."""
    if where:
        return f"{where} (called from cell line {line})" if line is not None else where
    text = run.cell_line(line).split("  #", 1)[0].strip()
    return f"line {line} `{text}`" if text else f"line {line}"


def _applied_to(run: Run, source: str) -> str:
    if not source:
        return ""
    if source in run.params:
        return f" on the parameter {source}"
    if source in run.layers or any(name.startswith(source + ".") for name in run.layers):
        return f" on the output of {layer_names([source])}"
    return f" on the result of {source}()"


def cut_text(run: Run, cut: GraphCut) -> str:
    """One sentence naming a cut and what it was applied to."""
    where, what = place(run, cut.line, cut.where), _applied_to(run, cut.source)
    if cut.kind in CUT_CONTEXTS:
        return f"{where} runs {cut.op} under {cut.kind}{what}: its result has no autograd history"
    if cut.zero_derivative:
        return f"{where} applies {cut.kind}{what}, whose derivative is 0 wherever it exists"
    return f"{where} uses {cut.kind}{what}: the result has no autograd history"


def in_forward(run: Run, line: int | None) -> bool:
    """The cell line is inside a `def forward(` (a module's forward written in the cell)."""
    if line is None:
        return False
    lines = run.source.splitlines()
    index = line - run.first_line
    if not 0 <= index < len(lines):
        return False
    depth = len(lines[index]) - len(lines[index].lstrip())
    for text in reversed(lines[:index]):
        stripped = text.lstrip()
        indent = len(text) - len(stripped)
        if stripped and indent < depth:
            if re.match(r"def\s+forward\s*\(", stripped):
                return True
            if stripped.startswith(("def ", "class ")):
                return False
            depth = indent
    return False

"""Where the cell builds a layer, and where a value the loss received was made.

The probe records which module or call made a tensor; a fix often belongs where that module was
constructed (`nn.Softmax(dim=1)` in a Sequential) or where the call was made (`F.softmax` in a
forward() written in the cell), not where the loss was called.
"""

from __future__ import annotations

import re

from nbgrad.diagnose.facts.cell import cell_lines
from nbgrad.records import LossCall, Run

__all__ = ["ACTIVATION_MODULES", "constructor_line", "input_made_at", "loss_built_line",
           "scores_ln_classes"]

# modules that only apply a function: the loss input "made by" one was made where it was built
ACTIVATION_MODULES = {"Softmax", "LogSoftmax", "Sigmoid", "Tanh", "ReLU", "Softmax2d", "Hardtanh",
                      "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus"}


def _code(text: str) -> str:
    return text.split("#", 1)[0]


def constructor_line(run: Run, layer: str, type_name: str, extra: str = "") -> int | None:
    """The cell line that builds `layer`, an instance of `type_name`; None when the cell does not
    say which (several candidates, or the class was built elsewhere).

    One line that calls `type_name(` decides; among several, the one that also matches `extra`
    (a regular expression: an argument the message gave), then the one that assigns the layer's
    attribute name (`self.classifier = nn.Sequential(..., nn.Linear(...))`).
    """
    hits = [n for n, text in cell_lines(run)
            if re.search(rf"\b{re.escape(type_name)}\s*\(", _code(text))]
    if len(hits) <= 1:
        return hits[0] if hits else None
    if extra:
        matching = [n for n in hits if re.search(extra, run.cell_line(n))]
        if len(matching) == 1:
            return matching[0]
    attr = next((part for part in reversed(layer.split(".")) if not part.isdigit()), "")
    if attr:
        named = [n for n in hits if re.search(rf"\b{re.escape(attr)}\s*=[^=]", run.cell_line(n))]
        if len(named) == 1:
            return named[0]
    return None


def input_made_at(run: Run, call: LossCall) -> tuple[int | None, str]:
    """(cell line, place outside the cell) where the loss's input got its last transformation:
    the constructor of an activation module (nn.Softmax), else the line of the call that made it
    (F.softmax in a forward() in the cell); outside the cell, the cell line is None."""
    if call.input_where:
        return None, call.input_where
    if call.input_module_type in ACTIVATION_MODULES:
        built = constructor_line(run, call.input_module, call.input_module_type)
        if built is not None:
            return built, ""
    return call.input_from_line, ""


def loss_built_line(run: Run, call: LossCall, module: str) -> int | None:
    """Where the loss is chosen: the line building its module (`criterion = nn.BCELoss()`), else
    the call (a functional loss, or a module built outside the cell)."""
    built = constructor_line(run, call.layer, module) if call.layer else None
    return built or call.line


def scores_ln_classes(call: LossCall) -> bool:
    """A mean class loss whose value for evenly spread predictions is ln(classes): cross-entropy
    on scores, or NLL on log-probabilities."""
    if call.reduction != "mean" or not call.classes or call.classes < 2:
        return False
    return call.function == "cross_entropy" or (
        call.function == "nll_loss" and call.input_from in ("log_softmax", "_log_softmax"))

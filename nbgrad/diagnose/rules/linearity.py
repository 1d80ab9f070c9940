"""Linear layers with nothing nonlinear between them: together they compute one linear map.

The probe records which module's output each Linear layer received unchanged (at most reshaped).
When every weight layer of a model receives the previous Linear's output, the whole model is a
single matrix product, however many layers it has: it cannot fit anything a one-layer linear model
cannot. Two such layers inside a larger, nonlinear model are only a note (a low-rank factorisation
can be meant); layers called one after the other in the cell (an adapter added to a frozen model)
are not judged.
"""

from __future__ import annotations

import ast

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence, Severity
from nbgrad.records import LayerFeed, Run


def _roots(run: Run) -> dict[str, str]:
    """layer -> the outermost module that was running when it ran."""
    return {m.layer: m.root_layer for m in run.forward.modules if m.root_layer}


def _layer_line(run: Run, feed: LayerFeed, root: str) -> int | None:
    """Where the activation belongs: the line of forward() that chains the two layers, or the
    first layer's line in an nn.Sequential(...) call."""
    function = facts.function_of(run, feed.line)
    if function is not None and function.name == "forward":
        return feed.line
    built = facts.constructed_by(run, root)
    index = feed.fed_by.rsplit(".", 1)[-1]
    if built is None or not built[1].endswith("Sequential") or not index.isdigit():
        return feed.line
    node = facts.statement_at(run, built[0])
    call = next((c for c in ast.walk(node) if isinstance(c, ast.Call)
                 and (getattr(c.func, "attr", None) or getattr(c.func, "id", None)) == "Sequential"),
                None) if node is not None else None
    if call is None or int(index) >= len(call.args):
        return feed.line
    return built[0] + call.args[int(index)].lineno - node.lineno  # type: ignore[union-attr]


def linear_chains(run: Run) -> list[Diagnosis]:
    """NBG603: a model all of whose weight layers follow each other with no activation between."""
    if not run.forward.feeds:
        return []
    roots = _roots(run)
    first = min(f.step for f in run.forward.feeds)
    linear = [f for f in run.forward.feeds if f.step == first and f.fed_by_type == "Linear"
              and roots.get(f.layer) is not None and roots.get(f.layer) == roots.get(f.fed_by)]
    if not linear:
        return []
    root = roots[linear[0].layer]
    weights = [w.layer for w in facts.weight_layers(run) if roots.get(w.layer) == root]
    chained = {f.layer for f in linear if roots[f.layer] == root}
    whole = len(weights) >= 2 and all(layer in chained for layer in weights[1:])
    pairs = [f for f in linear if roots[f.layer] == root]
    severity: Severity = "warning" if whole else "info"
    evidence = [Evidence(f"layer {f.layer} receives the output of layer {f.fed_by} (Linear) "
                         f"unchanged at step {f.step}: no activation between them", value=1.0,
                         layer=f.layer, step=f.step) for f in pairs[:4]]
    if whole:
        evidence.append(Evidence(f"all {len(weights)} weight layers of '{root}' ("
                                 f"{facts.names(weights)}) follow each other this way",
                                 value=float(len(weights))))
    line = _layer_line(run, pairs[0], root)
    return [make(
        "NBG603", severity=severity,
        title=(f"'{root}' has no activation between its {len(weights)} Linear layers: it is one "
               "linear map" if whole else
               f"Layers {pairs[0].fed_by} and {pairs[0].layer} have no activation between them"),
        evidence=evidence,
        why=("A Linear layer applied to another Linear layer's output computes W2 (W1 x + b1) + b2, "
             "which is again one linear function of x. Without a nonlinearity between the layers, "
             "depth adds parameters but no expressive power: the model can only draw straight "
             "boundaries (or fit linear trends)."),
        fix=(f"Put an activation after layer {pairs[0].fed_by} and each hidden layer: nn.ReLU() "
             "between the layers of an nn.Sequential, or torch.relu(...) around each hidden layer's "
             "output in forward()." + ("" if whole else " If a low-rank linear factorisation is "
                                       "meant, ignore this note.")),
        line=line, confidence=0.9 if whole else 0.4,
        layers=list(dict.fromkeys([f.fed_by for f in pairs] + [f.layer for f in pairs])))]

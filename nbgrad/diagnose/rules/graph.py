"""The loss does not reach the parameters.

A gradient that is `None` after `backward()` means autograd found no path from the loss to that
parameter. Which parameters lack one tells the cause apart: none at all (the loss itself was cut from
the model), some layers that ran (cut inside `forward`), layers that never ran (unused), or layers
that are new at every step (made inside `forward`).
"""

from __future__ import annotations

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence, Severity
from nbgrad.diagnose.facts import fmt
from nbgrad.records import GraphCut, LayerInfo, Run


def _break_evidence(run: Run, limit: int = 3) -> list[Evidence]:
    """Cell lines that read like a cut: only for a run the probe did not watch."""
    if facts.probe_watched(run):
        return []
    return [Evidence(f"line {n} `{text}` uses {', '.join(found)}: the result has no autograd "
                     "history") for n, text, found in facts.graph_breaks(run)[:limit]]


def _cut_evidence(run: Run, cuts: list[GraphCut], limit: int = 3) -> list[Evidence]:
    return [Evidence(facts.cut_text(run, c), step=c.step) for c in cuts[:limit]]


def _grad_norms(run: Run, params: list[str]) -> list[float | None]:
    return [s.params[p].grad_norm for s in run.steps for p in params if p in s.params]


def loss_detached(run: Run) -> list[Diagnosis]:
    """NBG101: backward() ran, yet no path led from the loss to any parameter.

    A gradient of zeros or NaN did reach the parameters, so it is not this; zeros count only
    when the probe saw what cut the loss (zero_grad(set_to_none=False) leaves zero tensors).
    """
    if not run.steps or run.error is not None or run.backward_calls == 0:
        return []
    trainable = [p for p in run.params.values() if facts.learnable(run, p.name)]
    if not trainable:
        return []  # all frozen: NBG203
    if any(facts.nonzero(s.backward_grad_norm) for s in run.steps):
        return []
    norms = _grad_norms(run, [p.name for p in trainable])
    if any(facts.nonzero(n) for n in norms):
        return []  # a gradient (NaN included) reached the parameters
    cuts, rebuilt = facts.loss_cuts(run, unreached=True), facts.rebuilt_loss(run)
    unconnected = any(not b.has_graph for b in facts.backward_calls(run))
    if any(n is not None for n in norms) and not (cuts or rebuilt or unconnected):
        return []  # zeros that came through a path (round(), dead units): not a cut
    backward_line = facts.first_line(run, "backward")
    variable = facts.backward_variable(run, backward_line)
    loss_line = facts.assignment_line(run, variable, backward_line) if variable else None
    evidence = [Evidence(
        f"backward() was called {run.backward_calls} times (line {backward_line}), but none of "
        f"the {len(trainable)} trainable parameters got a gradient in {len(run.steps)} steps",
        value=float(run.backward_calls), step=0)]
    unmoved = [p.name for p in trainable if not facts.moved(run, p.name)]
    if unmoved:
        evidence.append(Evidence(f"{len(unmoved)} of them never changed: "
                                 f"{facts.names(unmoved)}", value=float(len(unmoved))))
    evidence += _cut_evidence(run, cuts)
    if rebuilt is not None:
        evidence.append(Evidence(
            f"backward() was called on a tensor made by torch.{rebuilt.made_by}(...) at "
            f"{facts.place(run, rebuilt.made_line)}: from plain numbers, without history",
            step=rebuilt.step))
    evidence += _break_evidence(run)
    name = variable or "loss"
    line = cuts[0].line if cuts else rebuilt.made_line if rebuilt else loss_line or backward_line
    outside = cuts[0].where if cuts else ""
    return [make(
        "NBG101", severity="error",
        title=f"The loss does not reach the model: `{name}` carries no gradient back to any weight",
        evidence=evidence,
        why=(f"`{name}` was made without the model's autograd history (under torch.no_grad(), or "
             "through .item(), .detach(), .numpy() or torch.tensor(...)), so backward() has no path "
             "to the parameters: every .grad stays empty and the optimizer has nothing to apply."),
        fix=facts.cut_fix(run, cuts[0]) if cuts else
            (f"Compute `{name}` from the model's output with torch operations only, and call "
             "backward() on that tensor; take .item() only to print it."),
        fix_code=facts.reconnected(run.cell_line(line)) if line and not outside else None,
        line=line,
        confidence=1.0,
        # gradients that arrive as exact zeros (not None) did reach the weights: a dead ReLU on the
        # output blocks them, and its finding is the cause
        consequence_of=["NBG602"] if any(s.params[p.name].grad_norm == 0 for s in run.steps
                                         for p in trainable if p.name in s.params) else [],
    )]


def zero_derivative_loss(run: Run) -> list[Diagnosis]:
    """NBG105: the loss reaches the weights only through round()/floor()/sign(): gradients of 0."""
    if not run.steps or run.error is not None or run.backward_calls == 0:
        return []
    trainable = [p.name for p in run.params.values() if facts.learnable(run, p.name)]
    norms = _grad_norms(run, trainable)
    if not norms or any(n is None or n != 0 for n in norms):
        return []  # some gradient is missing (a cut: NBG101/102) or not zero
    flat = facts.zero_derivative_cuts(run)
    if not flat:
        return []
    cut = flat[0]
    index = next(i for i, c in enumerate(run.forward.cuts) if c is cut)
    fed = [c for c in run.forward.losses if index in c.input_cuts]
    line = fed[0].line if fed else cut.line
    evidence = [Evidence(f"every gradient was exactly 0 at all {len(run.steps)} steps "
                         f"({len(trainable)} parameters)", value=0.0, step=0),
                Evidence(facts.cut_text(run, cut), step=cut.step)]
    if fed:
        evidence.append(Evidence(f"line {fed[0].line} `{run.cell_line(fed[0].line)}` computes the "
                                 f"loss from that rounded value", step=fed[0].step))
    return [make(
        "NBG105", severity="error",
        title=f"The loss is computed through {cut.kind}, whose gradient is 0: the weights never move",
        evidence=evidence,
        why=(f"{cut.kind} is a step function: a small change of its input does not change its "
             "output, so its derivative is 0 and backward() brings back zeros. Such values are "
             "fine for a metric (accuracy), not for the loss the optimizer follows."),
        fix=(f"Give the loss the values before {cut.kind} (probabilities or scores), and keep "
             f"{cut.kind} for predictions and metrics."),
        line=line,
        confidence=0.95,
    )]


def _cut_of_layers(run: Run, cuts: list[GraphCut], layers: list[str]) -> GraphCut | None:
    """The cut applied to (or running inside) one of these layers."""
    def ours(name: str) -> bool:
        return any(name == layer or layer.startswith(name + ".") or name.startswith(layer + ".")
                   for layer in layers)
    for cut in cuts:
        owner = run.params[cut.source].layer if cut.source in run.params else cut.source
        if ours(owner) or (cut.kind in facts.CUT_CONTEXTS
                           and ours(cut.layer)):
            return cut
    return None


def _cut_between(run: Run, cut: list[LayerInfo], later: list[LayerInfo]) -> GraphCut | None:
    """The cut made in the cell between the last layer that gets no gradient and the first one
    after it that does: a NumPy round trip (`torch.from_numpy(f(h.detach().numpy()))`) leaves
    no trace in the loss's history, since the tensor made from the array is new, so the cut is
    found by where it ran, not by what the loss descends from."""
    before = [layer.forward_line for layer in cut if layer.forward_line is not None]
    after = [layer.forward_line for layer in later if layer.forward_line is not None]
    if not before or not after or max(before) > min(after):
        return None
    return next((c for c in run.forward.cuts if not c.where and not c.zero_derivative
                 and c.line is not None and max(before) <= c.line <= min(after)
                 and c.kind not in facts.CUT_CONTEXTS), None)


def layer_cut_from_loss(run: Run) -> list[Diagnosis]:
    """NBG102: layers that ran and are being optimized, yet never got a gradient."""
    if not run.steps or run.error is not None:
        return []
    with_grad = {p for p in run.params if facts.got_grad(run, p)}
    if not with_grad:
        return []  # nothing got a gradient: NBG101
    made_in_forward = {layer.name for group in facts.created_in_forward(run) for layer in group}
    idle = {oi for oi in range(len(run.optimizers))  # whole optimizers unused: NBG201 / NBG202
            if not any(p in with_grad for p in facts.optimizer_params(run, oi))}
    cut, reached = [], []
    for layer in run.layers.values():
        if layer.forward_order is None or layer.name in made_in_forward:
            continue
        params = [run.params[p] for p in layer.params]
        if any(p.name in with_grad for p in params):
            reached.append(layer)
            continue
        trained = [p for p in params if facts.learnable(run, p.name) and p.optimizer is not None
                   and p.optimizer not in idle]
        never = all(s.params[p.name].grad_norm is None for s in run.steps for p in trained
                    if p.name in s.params)
        if trained and never:
            cut.append(layer)
    if not cut:
        return []
    inside = [layer for layer in cut
              if any((r.forward_order or 0) > (layer.forward_order or 0) for r in reached)]
    names = [layer.name for layer in cut]
    after = [r.name for r in reached if any((r.forward_order or 0) > (c.forward_order or 0)
                                            for c in inside)]
    evidence = [Evidence(
        f"{layer.name} ({layer.type}) ran in every forward pass (first from line "
        f"{layer.forward_line}) but {facts.names(layer.params)} never got a gradient in "
        f"{len(run.steps)} steps", layer=layer.name) for layer in cut]
    if after:
        grad = max(facts.finite(s.layers[r].grad_norm for s in run.steps for r in after
                                if r in s.layers), default=None)
        them = "it" if len(inside) == 1 else "them"
        evidence.append(Evidence(f"{facts.names(after)}, which ran after {them}, did get gradients "
                                 f"(norm up to {fmt(grad)}): the graph is cut in between",
                                 value=grad))
    if facts.probe_watched(run):
        found = _cut_of_layers(run, facts.loss_cuts(run), names) \
            or _cut_between(run, inside, [r for r in reached if r.name in after])
        cuts = [found] if found else facts.loss_cuts(run)[:1]
        evidence += _cut_evidence(run, cuts)
        # a .detach()/.data upstream of layers that learn is a mistake; torch.no_grad() around
        # a part of the model in the loop is how a backbone is frozen on purpose (its weights
        # just stay put), inside forward() it may be either
        context = [c for c in cuts if c.kind in facts.CUT_CONTEXTS]
        explicit = [c for c in cuts if c not in context or facts.in_forward(run, c.line)]
        severity: Severity = ("error" if inside and explicit and not context else
                              "warning" if explicit or not cuts else "info")
        line = cuts[0].line if cuts else cut[0].forward_line
    else:
        breaks = facts.graph_breaks(run)
        evidence += _break_evidence(run)
        plain = [b for b in breaks if set(b[2]) - {"torch.no_grad()"}]
        severity = "error" if inside and plain else "info" if breaks and not plain else "warning"
        line = (plain or breaks)[0][0] if breaks else cut[0].forward_line
    return [make(
        "NBG102", severity=severity,
        title=f"{facts.layer_names(names)} never get{'s' if len(names) == 1 else ''} a gradient: "
              "the loss does not reach "
              + ("it" if len(names) == 1 else "them"),
        evidence=evidence,
        why=("Between these layers' output and the loss, something made a tensor without autograd "
             "history (.detach(), .data, .item(), .numpy(), torch.tensor(...)), or their output is "
             "not used in the loss: backward() never reaches them, so their weights stay as "
             "initialised although the optimizer holds them."),
        fix=("Keep the forward pass in torch operations on tensors with history: remove .detach(), "
             ".data and NumPy round-trips between these layers and the loss. If you meant to "
             "freeze them, set requires_grad_(False) instead."),
        line=line,
        confidence=0.9 if inside else 0.7,
        layers=names,
    )]


def layer_created_in_forward(run: Run) -> list[Diagnosis]:
    """NBG103: a layer type whose parameters are new objects at step after step."""
    found = []
    for group in facts.created_in_forward(run):
        first = group[0]
        shapes = ", ".join(str(tuple(run.params[p].shape)) for p in first.params)
        steps = sorted({layer.first_step or 0 for layer in group})
        in_opt = [p for layer in group for p in layer.params if run.params[p].optimizer is not None]
        evidence = [
            Evidence(f"a new {first.type} with parameters of shape {shapes} ran at steps "
                     f"{facts.names(map(str, steps), 6)}: {len(group)} different layers in "
                     f"{len(run.steps)} steps, made at line {group[-1].forward_line}",
                     value=float(len(group)), layer=group[-1].name),
            Evidence("none of them is in an optimizer" if not in_opt else
                     f"only {len(in_opt)} of their parameters are in an optimizer"),
        ]
        found.append(make(
            "NBG103", severity="error",
            title=f"A new {first.type} layer is made at every step: it is created inside forward()",
            evidence=evidence,
            why=("A layer built inside forward() gets fresh random weights at every call: what one "
                 "step learns is thrown away at the next, and the optimizer, built before, never "
                 "holds these weights."),
            fix=(f"Create the {first.type} once in __init__ (self.layer = nn.{first.type}(...)) and "
                 "only call it in forward()."),
            line=group[-1].forward_line,
            confidence=0.95,
            layers=[layer.name for layer in group],
        ))
    return found


def layer_never_ran(run: Run) -> list[Diagnosis]:
    """NBG104 (note): a layer in a working optimizer that never ran: unused, maybe on purpose."""
    if not run.steps or run.error is not None:
        return []
    found = []
    for oi, _ in enumerate(run.optimizers):
        held = facts.optimizer_params(run, oi)
        if not any(facts.got_grad(run, p) for p in held):
            continue  # the whole optimizer is unused: NBG201 / NBG202
        idle = [layer for layer in run.layers.values()
                if layer.forward_order is None and layer.type != "Tensor"
                and any(facts.learnable(run, p) for p in layer.params)
                and all(p in held and run.params[p].requires_grad
                        and not facts.got_grad(run, p) for p in layer.params)]
        if not idle:
            continue
        names = [layer.name for layer in idle]
        found.append(make(
            "NBG104", severity="info",
            title=f"{facts.layer_names(names)} never ran: '{run.optimizers[oi].name}' holds "
                  + ("it, but it does" if len(names) == 1 else "them, but they do") + " not learn",
            evidence=[Evidence(f"{layer.name} ({layer.type}, {facts.names(layer.params)}) did not "
                               f"run in {len(run.steps)} steps and never got a gradient",
                               value=float(len(run.steps)), layer=layer.name) for layer in idle],
            why=("A layer that forward() does not call takes no part in the loss; its weights stay "
                 "as initialised. That is fine for a head kept for another task."),
            fix="If the layer should be part of the model, call it in forward(); otherwise ignore "
                "this note.",
            confidence=0.5,
            layers=names,
        ))
    return found


RULES = [loss_detached, zero_derivative_loss, layer_cut_from_loss, layer_created_in_forward,
         layer_never_ran]

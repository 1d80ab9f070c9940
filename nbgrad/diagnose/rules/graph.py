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
from nbgrad.records import Run


def _break_evidence(run: Run, limit: int = 3) -> list[Evidence]:
    return [Evidence(f"line {n} `{text}` uses {', '.join(found)}: the result has no autograd "
                     "history") for n, text, found in facts.graph_breaks(run)[:limit]]


def loss_detached(run: Run) -> list[Diagnosis]:
    """NBG101: backward() ran, yet no parameter anywhere got a gradient."""
    if not run.steps or run.error is not None or run.backward_calls == 0:
        return []
    trainable = [p for p in run.params.values() if facts.learnable(run, p.name)]
    if not trainable:
        return []  # all frozen: NBG203
    if any(facts.nonzero(s.backward_grad_norm) for s in run.steps):
        return []
    if any(facts.got_grad(run, p.name) for p in trainable):
        return []
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
    evidence += _break_evidence(run)
    name = variable or "loss"
    return [make(
        "NBG101", severity="error",
        title=f"The loss does not reach the model: `{name}` carries no gradient back to any weight",
        evidence=evidence,
        why=(f"`{name}` was made without the model's autograd history (under torch.no_grad(), or "
             "through .item(), .detach(), .numpy() or torch.tensor(...)), so backward() has no path "
             "to the parameters: every .grad stays empty and the optimizer has nothing to apply."),
        fix=(f"Compute `{name}` from the model's output with torch operations only, and call "
             "backward() on that tensor; take .item() only to print it."),
        fix_code=facts.reconnected(run.cell_line(loss_line)) if loss_line else None,
        line=loss_line or backward_line,
        confidence=1.0,
        # gradients that arrive as exact zeros (not None) did reach the weights: a dead ReLU on the
        # output blocks them, and its finding is the cause
        consequence_of=["NBG602"] if any(s.params[p.name].grad_norm == 0 for s in run.steps
                                         for p in trainable if p.name in s.params) else [],
    )]


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
    breaks = facts.graph_breaks(run)
    evidence += _break_evidence(run)
    # a cut by .detach()/.data/... upstream of layers that learn is a mistake; a cut by
    # torch.no_grad() alone is how a backbone is frozen on purpose (its weights just stay put)
    explicit = [b for b in breaks if set(b[2]) - {"torch.no_grad()"}]
    severity: Severity = "error" if inside and explicit else "info" if breaks and not explicit \
        else "warning"
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
        line=(explicit or breaks)[0][0] if breaks else cut[0].forward_line,
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


RULES = [loss_detached, layer_cut_from_loss, layer_created_in_forward, layer_never_ran]

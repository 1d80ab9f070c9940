"""Parameters that get gradients but that no optimizer steps, and the reverse.

A parameter with a gradient that no optimizer holds and that never changes is almost always a
mistake: the optimizer was built on another object than the one that computes the loss. A frozen
backbone (requires_grad=False, or not in the optimizer and getting no gradient) is a choice and is not
reported; a parameter updated by hand (its value changes without an optimizer) is not reported either.
"""

from __future__ import annotations

import re

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.facts import fmt
from nbgrad.records import Run


def _loss_line(run: Run, optimizer: int) -> int | None:
    """The line that computes the loss of the optimizer's steps (`g_loss = ...`)."""
    step = next(iter(facts.steps_of(run, optimizer)), None)
    if step is None:
        return None
    backward = next((e.line for e in run.events if e.kind == "backward" and e.step == step.index),
                    None)
    variable = facts.backward_variable(run, backward)
    return facts.assignment_line(run, variable, backward) if variable else None


def _unused_optimizers(run: Run) -> list[int]:
    """Optimizers that stepped although none of their parameters ever got a gradient."""
    return [oi for oi, opt in enumerate(run.optimizers)
            if opt.steps and not any(facts.got_grad(run, p) for p in facts.optimizer_params(run, oi))]


def _shapes(run: Run, params: list[str]) -> list[tuple[int, ...]]:
    return sorted(tuple(run.params[p].shape) for p in params)


def grads_not_in_optimizer(run: Run) -> list[Diagnosis]:
    """NBG201: parameters that get gradients, belong to no optimizer and never change."""
    if not run.steps or run.error is not None:
        return []
    made_in_forward = {p for group in facts.created_in_forward(run) for layer in group
                       for p in layer.params}
    orphans = [p.name for p in run.params.values()
               if facts.learnable(run, p.name) and p.optimizer is None and p.name not in made_in_forward
               and facts.got_grad(run, p.name) and not facts.moved(run, p.name)]
    if not orphans:
        return []
    layers = list(dict.fromkeys(run.params[p].layer for p in orphans))
    grad = max(facts.finite(s.params[p].grad_norm for s in run.steps for p in orphans
                            if p in s.params), default=None)
    evidence = [Evidence(f"{facts.names(orphans)} got gradients (norm up to {fmt(grad)}) in "
                         f"{len(run.steps)} steps, but no optimizer holds them and they never "
                         "changed", value=grad)]
    unused = _unused_optimizers(run)
    cause, fix, line, fix_code = _cause(run, orphans, layers, unused, evidence)
    everything = all(p.optimizer is None for p in run.params.values() if p.name in orphans
                     or facts.got_grad(run, p.name))
    title = ("No optimizer holds the parameters that get gradients" if everything else
             f"{facts.layer_names(layers)} get{'s' if len(layers) == 1 else ''} gradients but no "
             "optimizer updates " + ("it" if len(layers) == 1 else "them"))
    # with a cause found, or nothing learning at all, it is a mistake; a part of the model left out
    # of the optimizer without a known cause may be a freeze that forgot requires_grad_(False)
    certain = bool(cause) or everything
    return [make(
        "NBG201", severity="error" if certain else "warning",
        title=title + cause,
        evidence=evidence,
        why=("optimizer.step() only changes the tensors in its param_groups. These parameters "
             "receive gradients every step but are not among them, so they keep their initial "
             "values" + ("; nothing in the model learns." if everything else
                         " while the rest of the model learns around them.")),
        fix=fix, fix_code=fix_code, line=line, confidence=0.95 if certain else 0.6, layers=layers,
    )]


def _cause(run: Run, orphans: list[str], layers: list[str], unused: list[int],
           evidence: list[Evidence]) -> tuple[str, str, int | None, str | None]:
    """(title suffix, fix, line, fix_code) for the way the parameters were left out."""
    for oi in unused:
        opt = run.optimizers[oi]
        held = facts.optimizer_params(run, oi)
        same = _shapes(run, held) == _shapes(run, orphans)
        evidence.append(Evidence(
            f"{opt.type} '{opt.name}' holds {len(held)} other parameters"
            + (" of exactly the same shapes" if same else "")
            + f" that never took part in the loss (no gradient in {opt.steps} steps)"))
        line = facts.optimizer_line(run, oi)
        source = facts.receiver(run, line, "parameters")
        rebuilt = facts.assigned_after(run, source, line) if source else None
        if rebuilt is not None:
            evidence.append(Evidence(f"line {rebuilt} `{run.cell_line(rebuilt)}` makes a new "
                                     f"`{source}` after line {line} built '{opt.name}' on the "
                                     "old one"))
            return (f": `{source}` was rebuilt after '{opt.name}' was created",
                    f"Create '{opt.name}' after the last `{source} = ...`, from the model that "
                    "computes the loss.", rebuilt, None)
        return (f": '{opt.name}' was built on another model",
                f"Build '{opt.name}' from the parameters of the model that computes the loss.",
                line, None)
    contained = {box for name in layers if (box := _container(run, name)) is not None}
    if contained:
        box = sorted(contained)[0]
        attr = box.rsplit(".", 1)[-1]
        line = facts.line_matching(run, rf"\b(self|{re.escape(box.split('.')[0])})\.{attr}\s*=[^=]")
        evidence.append(Evidence(f"they are kept in the plain Python container `{box}`, which "
                                 "nn.Module does not look into: .parameters() misses them"))
        text = run.cell_line(line)
        code = None
        found = re.match(r"^(\s*[\w.]+\s*=\s*)(\[.*\])\s*$", text)
        if found:
            code = f"{found.group(1)}nn.ModuleList({found.group(2)})"
        return (f": they sit in a plain list `{box}`",
                f"Keep the layers in nn.ModuleList (or nn.ModuleDict) instead of `{box}`'s plain "
                "list, so that .parameters() and the optimizer see them.", line, code)
    for oi, opt in enumerate(run.optimizers):
        line = facts.optimizer_line(run, oi)
        last_group = facts.last_list_item(run, line)
        if line is not None and last_group is not None:
            evidence.append(Evidence(f"line {line} builds '{opt.name}' from an explicit list of "
                                     f"{len(opt.param_groups)} parameter group"
                                     f"{'s' if len(opt.param_groups) != 1 else ''}, which leaves "
                                     f"{facts.names(orphans)} out"))
            return (f": '{opt.name}' is built from a list of parameter groups without them",
                    f"Add them to '{opt.name}': another group after line {last_group}, e.g. "
                    f"{{'params': [{', '.join(orphans[:3])}]}}, or build it from "
                    "model.parameters().", last_group, None)
        source = facts.receiver(run, line, "parameters")
        if line is None or source is None:
            continue
        for layer in layers:
            attr = layer.rsplit(".", 1)[-1]
            added = next((n for n, text in facts.cell_lines(run)
                          if n > line and re.match(rf"^\s*{re.escape(source)}\.(\w+\.)*"
                                                   rf"{re.escape(attr)}\s*=[^=]", text)), None)
            if added is not None:
                evidence.append(Evidence(f"line {added} `{run.cell_line(added)}` adds {layer} "
                                         f"after line {line} built '{opt.name}'"))
                return (f": {layer} was added after '{opt.name}' was created",
                        f"Create '{opt.name}' after the model is complete (after line {added}), "
                        "or add the new parameters with "
                        f"{opt.name}.add_param_group({{'params': {source}.{layer}.parameters()}}).",
                        added, f"{opt.name}.add_param_group({{'params': "
                               f"{source}.{layer}.parameters()}})")
    for oi, opt in enumerate(run.optimizers):
        line = facts.optimizer_line(run, oi)
        built = facts.list_argument(run, line)
        if built is None or not opt.param_groups:
            continue
        name, last = built
        evidence.append(Evidence(f"line {line} builds '{opt.name}' from `{name}`, a list of "
                                 f"{len(opt.param_groups)} parameter group"
                                 f"{'s' if len(opt.param_groups) != 1 else ''} (last added at line "
                                 f"{last}), which leaves {facts.names(orphans)} out"))
        return (f": '{opt.name}' is built from a list of parameter groups without them",
                f"Add a group for them to `{name}` after line {last}, e.g. "
                f"{name}.append({{'params': [{', '.join(orphans[:3])}]}}), or build '{opt.name}' "
                "from model.parameters().", last, None)
    return ("", "If these layers should learn, pass their parameters to the optimizer (build it from "
                "model.parameters() once the model is complete); if you meant to freeze them, say "
                "so with requires_grad_(False), which also saves computing their gradients.",
            None, None)


def _container(run: Run, layer: str) -> str | None:
    """The plain list or dict attribute that holds a layer, directly or through a container inside
    it (`model.branches[0].0` is held by `model.branches`)."""
    info = run.layers.get(layer)
    if info is not None and info.container is not None:
        return info.container
    found = re.match(r"^([\w.]+?)\[[^\]]*\]", layer)
    return found.group(1) if found else None


EMPTY_OPTIMIZER = "optimizer got an empty parameter list"


def empty_parameter_list(run: Run) -> list[Diagnosis]:
    """NBG201: the optimizer was given no parameters at all, because the model keeps its layers in
    a plain Python list (or dict) attribute, which nn.Module does not register."""
    if run.error is None or EMPTY_OPTIMIZER not in run.error.message:
        return []
    line = run.error.line
    source = facts.receiver(run, line, "parameters")
    lists = [(n, text.strip()) for n, text in facts.cell_lines(run)
             if re.match(r"^\s*self\.\w+\s*=\s*[\[{]", text) and re.search(r"\bnn\.\w+\(|\bLinear\(|"
                                                                    r"\bConv\w*\(", text)]
    evidence = [Evidence(f"line {line} raised {run.error.type}: {run.error.message}", value=0.0)]
    if source is not None:
        evidence.append(Evidence(f"`{source}.parameters()` yielded no parameter at all"))
    if not lists:
        return [make(
            "NBG201", severity="warning",
            title="The optimizer got no parameters: the model registered none",
            evidence=evidence,
            why=("nn.Module registers only layers assigned as attributes (or kept in nn.ModuleList "
                 "/ nn.ModuleDict) and nn.Parameter tensors; .parameters() found none here."),
            fix=("Assign each layer to an attribute of the module, or keep a variable number of "
                 "layers in nn.ModuleList."),
            line=line, confidence=0.6)]
    number, text = lists[0]
    evidence.append(Evidence(f"line {number} `{text}` keeps layers in a plain Python "
                             + ("list" if "[" in text.split("=", 1)[1][:3] else "dict")
                             + ", which nn.Module does not look into"))
    found = re.match(r"^(\s*[\w.]+\s*=\s*)(\[.*\])\s*$", run.cell_line(number))
    return [make(
        "NBG201", severity="error",
        title="The optimizer got no parameters: the model's layers sit in a plain list",
        evidence=evidence,
        why=("nn.Module finds its parameters through attributes that are modules, nn.ModuleList or "
             "nn.ModuleDict. Layers in a plain list are invisible to it, so .parameters() is "
             "empty and no optimizer can train them."),
        fix=f"Keep the layers in nn.ModuleList (nn.ModuleDict for a dict) on line {number}.",
        fix_code=f"{found.group(1)}nn.ModuleList({found.group(2)})" if found else None,
        line=number, confidence=0.9)]


def optimizer_params_unused(run: Run) -> list[Diagnosis]:
    """NBG202: an optimizer that steps parameters which never take part in the loss."""
    if not run.steps or run.error is not None:
        return []
    if grads_not_in_optimizer(run):
        return []  # NBG201 names the unused optimizer in its own evidence
    if not any(facts.got_grad(run, p) for p in run.params):
        return []  # nothing got a gradient: NBG101
    found = []
    for oi in _unused_optimizers(run):
        opt = run.optimizers[oi]
        held = facts.optimizer_params(run, oi)
        frozen = [p for p in held if not run.params[p].requires_grad]
        layers = list(dict.fromkeys(run.params[p].layer for p in held))
        ran = [name for name in layers if name in run.layers
               and run.layers[name].forward_order is not None]
        evidence = [Evidence(f"{opt.type} '{opt.name}' stepped {opt.steps} times, but none of its "
                             f"{len(held)} parameters ({facts.names(held)}) ever got a gradient"
                             + (f"; {len(frozen)} of them are frozen" if frozen else ""),
                             value=float(opt.steps))]
        line = facts.optimizer_line(run, oi)
        if ran:
            breaks = facts.graph_breaks(run)
            own = _loss_line(run, oi)
            mine = [b for b in breaks if b[0] == own] or breaks[:3]  # the cut on its own loss line
            evidence.append(Evidence(f"{facts.names(ran)} ran in the forward pass, so the graph is "
                                     "cut between their output and every loss"))
            evidence += [Evidence(f"line {n} `{text}` uses {', '.join(cut)}: the result has no "
                                  "autograd history") for n, text, cut in mine]
            line = mine[0][0] if mine else line
        found.append(make(
            "NBG202", severity="warning",
            title=f"'{opt.name}' steps parameters that never take part in the loss",
            evidence=evidence,
            why=(f"'{opt.name}'.step() changes nothing: no loss that backward() is called on "
                 "depends on its parameters."),
            fix=(f"Let the loss reach {facts.names(ran)}: remove the .detach() (or other cut) "
                 "between their output and the loss." if ran else
                 f"Build '{opt.name}' on the parameters the loss is computed with, or remove it."),
            line=line, confidence=0.9, layers=layers,
        ))
    return found


NORM_TYPES = ("BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm", "RMSNorm")


def all_frozen(run: Run) -> list[Diagnosis]:
    """NBG203: every parameter has requires_grad=False: nothing can learn."""
    if run.params and any(p.requires_grad for p in run.params.values()):
        return _only_norms_train(run)
    if not run.params:
        return []
    if run.backward_calls == 0 and run.error is None:
        return []
    line = facts.line_matching(run, r"requires_grad(_\(\s*False\s*\)|\s*=\s*False)")
    evidence = [Evidence(f"all {len(run.params)} parameters ({facts.names(run.params)}) have "
                         "requires_grad=False", value=float(len(run.params)))]
    if run.error is not None:
        evidence.append(Evidence(f"so backward() raised {run.error.type} at line "
                                 f"{run.error.line}: {run.error.message.splitlines()[0]}"))
    if line is not None:
        evidence.append(Evidence(f"line {line} `{run.cell_line(line)}` freezes them"))
    return [make(
        "NBG203", severity="error",
        title="Every parameter is frozen (requires_grad=False): nothing can learn",
        evidence=evidence,
        why=("Autograd computes gradients only for tensors with requires_grad=True; with every "
             "parameter frozen the loss has no gradient at all, so backward() fails or does "
             "nothing and no step changes the model."),
        fix=("Unfreeze the layers you want to train, e.g. the new head: "
             "for p in model.head.parameters(): p.requires_grad = True"),
        line=line or (run.error.line if run.error else None), confidence=1.0,
        layers=list(run.layers),
    )]


def _only_norms_train(run: Run) -> list[Diagnosis]:
    """NBG203 (warning): every layer with weights is frozen; only normalisation layers' scale and
    shift still train. Fine-tuning those alone is a known technique, but the loss barely moves with
    them, and a freeze written by name that matches nothing is the usual reason."""
    if not run.steps or run.error is not None:
        return []
    weights = facts.weight_layers(run)
    trainable = [p for p in run.params.values() if p.requires_grad]
    if not weights or any(run.params[w.param].requires_grad for w in weights):
        return []
    kinds = {run.layers[p.layer].type for p in trainable if p.layer in run.layers}
    if not kinds or not all(any(n in kind for n in NORM_TYPES) for kind in kinds):
        return []
    losses = facts.finite(facts.loss_series(run, 0)) if run.optimizers else []
    line = facts.line_matching(run, r"requires_grad(_\(\s*False\s*\)|\s*=\s*False)") or \
        facts.line_matching(run, r"requires_grad(_\(|\s*=[^=])")
    frozen = [w.layer for w in weights]
    first, last = facts.thirds(losses) if losses else (0.0, 0.0)
    evidence = [
        Evidence(f"all {len(frozen)} layers with weights ({facts.names(frozen)}) have "
                 "requires_grad=False", value=float(len(frozen))),
        Evidence(f"only {len(trainable)} parameters of normalisation layers train "
                 f"({facts.names([p.name for p in trainable])}), "
                 f"{sum(p.numel for p in trainable)} of "
                 f"{sum(p.numel for p in run.params.values())} values", value=float(len(trainable))),
    ]
    if losses:
        evidence.append(Evidence(f"the loss: mean of the first third of the steps {fmt(first)}, "
                                 f"of the last {fmt(last)}", value=last))
    if line is not None:
        evidence.append(Evidence(f"line {line} `{run.cell_line(line)}` sets requires_grad"))
    return [make(
        "NBG203", severity="warning",
        title="Every layer with weights is frozen: only normalisation layers train",
        evidence=evidence,
        why=("A freeze that leaves only BatchNorm/LayerNorm scales and shifts trainable lets the "
             "model rescale features it cannot change; the output layer, usually the part meant "
             "to train, stays as initialised. A freeze by name that matches no layer does this."),
        fix=("Make the layers you meant to train trainable (the head: for p in "
             "model.<head>.parameters(): p.requires_grad = True), and check the names a freeze by "
             "name matches."),
        line=line, confidence=0.7, layers=frozen)]


RULES = [grads_not_in_optimizer, empty_parameter_list, optimizer_params_unused, all_frozen]

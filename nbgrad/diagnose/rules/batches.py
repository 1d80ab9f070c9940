"""How batches are formed: labels that no longer pair with their inputs, the same batch at every
step, batches that each hold one class, a reshape that scrambles the axes of the data.

Each is measured in the watched iterations (what the loss received, the batch fingerprints, the
shapes a reshape turned into each other); the cell's text only says where the fix goes.
"""

from __future__ import annotations

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.facts import fmt
from nbgrad.records import LossCall, Run
from nbgrad.thresholds import (
    CHANCE_LOSS_SHARE,
    LABEL_LINK_GAP,
    SAME_BATCH_MIN_STEPS,
    SINGLE_CLASS_MIN_BATCH,
)


def _class_calls(run: Run) -> list[LossCall]:
    return [c for c in run.forward.losses if c.labels is not None and c.classes]


def labels_not_paired(run: Run) -> list[Diagnosis]:
    """NBG861: after the steps the model scores its inputs' own labels no better than another
    sample's, no better than the label frequencies, and the cell shuffles inputs and labels each
    on their own."""
    if run.error is not None or len(run.forward.windows) < 2:
        return []
    last = [c for c in _class_calls(run) if c.step == run.forward.windows[-1]]
    if not last:
        return []
    call = last[0]
    stats = call.labels
    assert stats is not None
    if stats.loss is None or stats.rolled_loss is None or not stats.entropy or stats.loss <= 0:
        return []
    gap = (stats.rolled_loss - stats.loss) / stats.loss
    if gap >= LABEL_LINK_GAP or stats.loss < CHANCE_LOSS_SHARE * stats.entropy:
        return []
    shuffles = facts.independent_shuffles(run)
    if not shuffles:
        return []  # the same numbers fit a model that has not started learning yet
    first = next((c for c in _class_calls(run) if c.step == run.forward.windows[0]), None)
    evidence = [
        Evidence(f"at step {call.step} the loss on the batch's own labels is {fmt(stats.loss)}, "
                 f"and {fmt(stats.rolled_loss)} with each label moved to the next sample: the "
                 f"model's outputs do not depend on which input a label belongs to "
                 f"({abs(gap):.1%} apart)", gap, call.layer or None, call.step),
        Evidence(f"a model that only learnt how often each of the {stats.distinct} labels occurs "
                 f"scores {fmt(stats.entropy)} (their entropy); this one scores {fmt(stats.loss)}",
                 stats.loss / stats.entropy, None, call.step),
    ]
    if first is not None and first.labels is not None and first.labels.loss is not None:
        evidence.append(Evidence(f"the loss went from {fmt(first.labels.loss)} at step "
                                 f"{first.step} to {fmt(stats.loss)} at step {call.step}",
                                 first.labels.loss, None, first.step))
    evidence.append(Evidence("inputs and labels are shuffled each on their own at lines "
                             + ", ".join(str(n) for n in shuffles)))
    return [make(
        "NBG861", severity="warning",
        title="The labels do not belong to their inputs: inputs and labels are shuffled "
              "separately",
        evidence=evidence,
        why="Two independent shuffles put the inputs and the labels in two different orders, so "
            "each input is trained towards a random other sample's label. Nothing links an input "
            "to its label, so the best the model can do is predict how often each label occurs: "
            "the loss stays at that level and the accuracy at chance.",
        fix="Shuffle inputs and labels together, with one permutation: order = "
            "np.random.permutation(len(X)); X, y = X[order], y[order]; or one "
            "DataLoader(TensorDataset(X, y), shuffle=True).",
        line=shuffles[0], confidence=0.85, layers=[call.layer] if call.layer else [])]


def same_batch_every_step(run: Run) -> list[Diagnosis]:
    """NBG862: the model's input was the identical batch at every step, fetched by a line that
    makes a new iterator at each step (next(iter(loader)) returns the first batch every time)."""
    if run.error is not None or not run.optimizers:
        return []
    steps = facts.steps_of(run, 0)
    if len(steps) < SAME_BATCH_MIN_STEPS or not facts.same_batch(run, 0):
        return []
    line = facts.fresh_iterator_line(run)
    if line is None:
        return []  # full-batch training uses one batch on purpose
    shape = run.forward.inputs[0].summary.shape if run.forward.inputs else None
    return [make(
        "NBG862", severity="warning",
        title="The model trains on the same batch at every step: next(iter(loader)) restarts the "
              "loader each time",
        evidence=[
            Evidence(f"the first layer's input was identical at all {len(steps)} steps "
                     f"(sum, sum of squares and a position-weighted sum agree)"
                     + (f"; batch shape {tuple(shape)}" if shape else ""),
                     float(len(steps)), None, 0),
            Evidence(f"line {line} `{run.cell_line(line)}` makes a new iterator and takes its "
                     "first batch at every step"),
        ],
        why="iter(loader) starts the loader from the beginning; next() then returns its first "
            "batch. Called inside the loop, it gives the same batch every time (without shuffle), "
            "so the model memorises that batch and never sees the rest of the data: the "
            "training loss falls while held-out accuracy does not.",
        fix="Iterate the loader itself (for x, y in loader: ...), or make the iterator once "
            "before the loop (it = iter(loader)) and call next(it) inside it.",
        line=line, confidence=0.9)]


def one_class_per_batch(run: Run) -> list[Diagnosis]:
    """NBG863: every watched batch held a single class, a different one each time: the data come
    sorted by class and are not shuffled."""
    if len(run.forward.windows) < 2:
        return []
    seen: dict[int, LossCall] = {}
    for call in _class_calls(run):
        seen.setdefault(call.step, call)
    calls = [seen[w] for w in run.forward.windows if w in seen]
    if len(calls) < 2 or any(c.classes is None or c.classes < 2 for c in calls):
        return []
    single = [c for c in calls if c.labels is not None and c.labels.distinct == 1
              and (c.labels.count or 0) >= SINGLE_CLASS_MIN_BATCH and c.label_min is not None]
    if len(single) < len(calls) or len({c.label_min for c in single}) < 2:
        return []
    line = facts.unshuffled_loader_line(run) or (run.forward.inputs[0].line
                                                 if run.forward.inputs else None)
    evidence = [Evidence(f"at step {c.step} all {c.labels.count} labels of the batch are "
                         f"{c.label_min:.0f}", c.label_min, c.layer or None, c.step)
                for c in single if c.labels is not None]
    evidence.append(Evidence(f"the model has {calls[0].classes} classes"))
    if line is not None and facts.unshuffled_loader_line(run) == line:
        evidence.append(Evidence(f"line {line} `{run.cell_line(line)}` does not shuffle"))
    return [make(
        "NBG863", severity="warning",
        title="Each batch holds a single class: the data are sorted by label and not shuffled",
        evidence=evidence,
        why="Trained on one class after another, the model is pulled towards predicting the "
            "current class for everything, then the next one: each stretch of steps undoes the "
            "one before, and at the end it favours whatever class came last.",
        fix="Shuffle the training data every epoch: DataLoader(..., shuffle=True), or index the "
            "tensors with torch.randperm(len(X)) before slicing batches.",
        line=line, confidence=0.85)]


def reshape_scrambles_axes(run: Run) -> list[Diagnosis]:
    """NBG864: a view/reshape that puts the old sizes in another order, which only a permute
    followed by a reshape does without mixing values across axes."""
    found = []
    for r in run.forward.reshapes[:1]:
        place = facts.place(run, r.line, r.where)
        found.append(make(
            "NBG864", severity="warning",
            title=f"{r.op}() turns {tuple(r.before)} into {tuple(r.after)}: that mixes values "
                  "across axes; a permute was meant",
            evidence=[Evidence(f"{place} reshapes {tuple(r.before)} to {tuple(r.after)} at step "
                               f"{r.step}: the same sizes in another order", float(r.after[-1]),
                               r.layer or None, r.step),
                      Evidence("view/reshape keep the values in memory order and only regroup "
                               "them; no merge or split of neighbouring axes gives this shape")],
            why="Reordering axes needs permute()/transpose(): view and reshape read the values in "
                "their stored order and cut them into the new shape, so a 'channel' of the result "
                "holds a mix of pixels and channels of the input (or features of several "
                "positions). The model then learns from scrambled data.",
            fix="Move the axes with permute first, then reshape: e.g. x.permute(0, 3, 1, 2) for "
                "(N, H, W, C) -> (N, C, H, W), or x.permute(0, 2, 3, 1).reshape(N, H * W, C) for "
                "(N, C, H, W) -> (N, H*W, C)." + (f" The {r.op}() is in {r.where}, outside this "
                                                  "cell." if r.where else ""),
            line=None if r.where else r.line, confidence=0.8,
            layers=[r.layer] if r.layer else []))
    return found


RULES = [labels_not_paired, same_batch_every_step, one_class_per_batch, reshape_scrambles_axes]

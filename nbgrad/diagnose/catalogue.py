"""Every diagnosis code, declared once: its slug, the severities it can have, what it is about.

Rules make their diagnoses through `make()`, so a code's slug cannot drift between files, and a
severity a code does not declare is a bug caught at once. The README's table of diagnoses and the
gallery notebook are generated from this list (tools/make_gallery.py), so neither can drift either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nbgrad.diagnose.diagnosis import Diagnosis, Severity


@dataclass(frozen=True)
class Code:
    code: str  # stable, e.g. "NBG301"
    slug: str  # stable, e.g. "grads-accumulate"
    severities: tuple[Severity, ...]  # the first is the usual one; others depend on the evidence
    about: str  # one line for the README and the gallery


@dataclass(frozen=True)
class Family:
    prefix: str  # "NBG3": the codes that start with it
    about: str


FAMILIES = [
    Family("NBG0", "how the check ran your cell (notes, not problems)"),
    Family("NBG1", "the loss does not reach the parameters"),
    Family("NBG2", "optimizer membership: parameters no optimizer holds, optimizers that hold "
                   "nothing used, everything frozen"),
    Family("NBG3", "clearing gradients and calling step()"),
    Family("NBG4", "the size of the step: learning rate, clipping, weight decay, GradScaler"),
    Family("NBG50", "gradients across depth, NaN/Inf"),
    Family("NBG55", "initialisation: identical units, weights far too large"),
    Family("NBG60", "activations that block the gradient"),
    Family("NBG65", "modules in the wrong mode for training"),
    Family("NBG70", "the loss over the recorded steps"),
    Family("NBG71", "a loss that rewards moving away from the targets"),
    Family("NBG80", "loss functions given the wrong thing"),
    Family("NBG81", "what the loss counts: the axis a softmax normalises, padding positions, "
                    "class labels read as numbers"),
    Family("NBG85", "inputs or targets on a far-off scale"),
    Family("NBG86", "how batches are formed: pairing, repetition, order, axes"),
    Family("NBG87", "the layout a sequence model reads"),
    Family("NBG9", "the exceptions students hit most, explained beside the traceback"),
    Family("NBG95", "across the ranks of a torchrun job: what one process cannot see"),
]

_CODES = [
    Code("NBG001", "stopped-mid-epoch", ("info",),
         "the check stopped the loop in its first epoch: lines after the inner loop did not run"),
    Code("NBG101", "loss-detached", ("error",),
         "backward() ran, yet no parameter got a gradient: the loss was cut from the model"),
    Code("NBG102", "layer-cut-from-loss", ("error", "warning", "info"),
         "layers that run and are optimized never get a gradient (.detach(), .data inside forward)"),
    Code("NBG103", "layer-created-in-forward", ("error",),
         "a layer is created inside forward(): new weights at every step"),
    Code("NBG104", "layer-never-ran", ("info",),
         "a layer the optimizer holds never runs (an unused head)"),
    Code("NBG105", "zero-gradient-op-in-loss", ("error",),
         "the loss goes through round()/floor()/sign(): every gradient is exactly 0"),
    Code("NBG201", "grads-not-in-optimizer", ("error", "warning"),
         "parameters get gradients but no optimizer holds them"),
    Code("NBG202", "optimizer-params-unused", ("warning",),
         "an optimizer steps parameters that never take part in the loss"),
    Code("NBG203", "all-frozen", ("error", "warning"),
         "every parameter has requires_grad=False (a warning: every layer with weights)"),
    Code("NBG301", "grads-accumulate", ("error",),
         "gradients accumulate across steps: zero_grad() is missing"),
    Code("NBG302", "zero-grad-before-step", ("error",),
         "zero_grad() runs between backward() and step()"),
    Code("NBG303", "step-before-backward", ("error",), "step() runs before backward()"),
    Code("NBG304", "zero-grad-after-step", ("info",),
         "zero_grad() after step() is correct (a note says so)"),
    Code("NBG305", "step-never-called", ("error",), "backward() runs but no optimizer ever steps"),
    Code("NBG401", "lr-zero", ("error",), "the learning rate is 0"),
    Code("NBG402", "lr-too-small", ("warning",),
         "the learning rate is so small that the weights barely move"),
    Code("NBG403", "lr-too-large", ("error",), "the learning rate is so large the loss diverges"),
    Code("NBG404", "clip-too-tight", ("warning",),
         "gradient clipping so tight that the updates vanish"),
    Code("NBG405", "weight-decay-dominates", ("warning",),
         "weight decay pulls harder than the loss gradient"),
    Code("NBG406", "grad-scaler-skips", ("error", "warning"), "a GradScaler skips every step"),
    Code("NBG407", "clip-after-step", ("warning", "error", "info"),
         "clip_grad_norm_ runs after optimizer.step(): the steps use unclipped gradients"),
    Code("NBG408", "lr-decays-away", ("warning",),
         "a scheduler stepped every batch decays the learning rate to almost nothing"),
    Code("NBG409", "penalty-dominates", ("warning",),
         "a penalty added to the loss outweighs the loss it regularises"),
    Code("NBG501", "vanishing-gradients", ("warning", "info"),
         "gradients shrink from the last layer to the first, with the cause"),
    Code("NBG502", "exploding-gradients", ("warning",),
         "gradients grow from the last layer to the first, with the cause"),
    Code("NBG503", "nan-or-inf", ("error",), "NaN/Inf: the first step and the first place"),
    Code("NBG551", "identical-units", ("error",),
         "all units of a layer start identical (constant initialisation)"),
    Code("NBG552", "init-too-large", ("warning",),
         "weights initialised far larger than a variance-preserving init: the outputs start huge"),
    Code("NBG601", "saturated-activations", ("warning", "info"),
         "saturated sigmoid/tanh units, or a sigmoid/tanh output that cannot reach the targets"),
    Code("NBG602", "dead-relu", ("error", "warning", "info"), "dead ReLU units (always 0)"),
    Code("NBG603", "no-nonlinearity", ("warning", "info"),
         "layers with no activation between them compute one linear map"),
    Code("NBG651", "eval-mode-while-training", ("warning",),
         "the model is in eval mode while it trains"),
    Code("NBG652", "batchnorm-batch-of-one", ("error", "warning"),
         "BatchNorm trains on batches of one example"),
    Code("NBG701", "loss-not-decreasing", ("info",), "the loss does not fall on the same batch"),
    Code("NBG702", "loss-diverging", ("warning", "error"),
         "the loss grows step after step (an error when it ends in NaN/Inf)"),
    Code("NBG703", "loss-oscillating", ("warning", "error"),
         "the loss zigzags: the steps overshoot (an error when they end in NaN/Inf)"),
    Code("NBG704", "first-loss-far-from-chance", ("warning", "info"),
         "the first cross-entropy is far above ln(classes): the model starts confidently wrong"),
    Code("NBG711", "loss-rewards-moving-away", ("error",),
         "the loss falls while the predictions move away from the targets"),
    Code("NBG801", "probabilities-into-cross-entropy", ("error",),
         "softmax/sigmoid before a loss that expects logits"),
    Code("NBG802", "log-softmax-before-cross-entropy", ("info",),
         "log_softmax before CrossEntropyLoss (redundant, harmless)"),
    Code("NBG803", "nll-loss-without-log-softmax", ("error",),
         "NLLLoss on probabilities or raw scores"),
    Code("NBG804", "broadcast-loss-shapes", ("error",),
         "prediction and target shapes broadcast in the loss"),
    Code("NBG805", "class-label-out-of-range", ("error",), "class labels out of range"),
    Code("NBG806", "bce-target-out-of-range", ("error",), "BCE targets outside [0, 1]"),
    Code("NBG807", "bce-input-not-probabilities", ("error",),
         "BCELoss on raw scores (no sigmoid): it needs probabilities"),
    Code("NBG808", "kldiv-input-not-log-probabilities", ("error",),
         "KLDivLoss on probabilities or scores: it needs log-probabilities"),
    Code("NBG809", "ctc-input-not-log-probabilities", ("error",),
         "CTCLoss on raw scores: it needs log_softmax over the classes"),
    Code("NBG811", "softmax-over-batch", ("error",),
         "the output's softmax normalises over the batch axis (dim=0), not the classes"),
    Code("NBG812", "padding-in-loss", ("warning",),
         "padding positions count as targets: the loss does not ignore the padding label"),
    Code("NBG813", "loss-summed-over-batch", ("warning", "error"),
         "reduction='sum' makes each step batch-size times too large for the learning rate"),
    Code("NBG814", "regression-loss-on-class-labels", ("error", "warning"),
         "MSELoss/L1Loss between the outputs and integer class labels: a classifier needs "
         "CrossEntropyLoss"),
    Code("NBG851", "input-scale", ("warning", "error"),
         "inputs on a far-off scale (raw pixels); an error when they kill the first layer's units"),
    Code("NBG852", "target-scale", ("warning", "error"),
         "regression targets on a far-off scale; an error when the loss diverges"),
    Code("NBG861", "labels-not-paired", ("warning",),
         "inputs and labels are shuffled separately: the model cannot beat label frequencies"),
    Code("NBG862", "same-batch-every-step", ("warning",),
         "the same batch at every step: next(iter(loader)) inside the loop"),
    Code("NBG863", "one-class-per-batch", ("warning",),
         "each batch holds a single class: sorted data, not shuffled"),
    Code("NBG864", "reshape-scrambles-axes", ("warning",),
         "view/reshape used to reorder axes, which mixes values across them"),
    Code("NBG871", "rnn-batch-first-mismatch", ("warning", "error"),
         "an RNN without batch_first=True is given (batch, time, features)"),
    Code("NBG901", "backward-without-graph", ("error",),
         "backward() was called on a tensor that is not connected to the model"),
    Code("NBG902", "backward-twice", ("error",),
         "backward() went through a graph that an earlier backward() already freed"),
    Code("NBG903", "inplace-modified", ("error",), "A tensor that backward() needs was changed in place"),
    Code("NBG904", "dtype-mismatch", ("error",),
         "Two tensors of different number types (float32, float64, int64) meet in one operation"),
    Code("NBG905", "device-mismatch", ("error",), "The model and the data are on different devices"),
    Code("NBG906", "linear-shape-mismatch", ("error",),
         "The input's feature count does not match the Linear layer"),
    Code("NBG907", "non-leaf-optimize", ("error",),
         "A computed tensor, not a leaf, is used as a weight: the optimizer refuses it, its .grad "
         "stays None"),
    Code("NBG908", "cross-entropy-target-shape", ("error",),
         "CrossEntropyLoss got targets of shape (N, 1); it wants one class index per sample, (N,)"),
    Code("NBG909", "item-before-backward", ("error",),
         "backward() was called on a Python number, not on a tensor"),
    Code("NBG910", "backward-non-scalar", ("error",),
         "backward() was called on a tensor with several values instead of one loss number"),
    Code("NBG911", "loss-shape-mismatch", ("error",),
         "The loss failed: the model's output and the targets have different shapes"),
    Code("NBG951", "ranks-parameters-differ", ("error",),
         "the ranks' weights differ after a step (model not wrapped in DDP, no_sync() left on)"),
    Code("NBG952", "ranks-same-batches", ("warning",),
         "every rank trains on the same batches (no DistributedSampler)"),
    Code("NBG953", "ranks-uneven-steps", ("error",),
         "ranks take different numbers of steps, raise, or wait for each other (the hang)"),
    Code("NBG954", "ddp-unused-parameters", ("error", "info"),
         "parameters that get no gradient under DistributedDataParallel"),
    Code("NBG955", "batchnorm-small-rank-batch", ("info",),
         "BatchNorm over a few examples per rank without SyncBatchNorm"),
]

CATALOGUE: dict[str, Code] = {c.code: c for c in _CODES}


def make(code: str, *, severity: Severity | None = None, **fields: Any) -> Diagnosis:
    """A diagnosis of a declared code; its slug comes from here, its severity must be declared."""
    entry = CATALOGUE[code]
    chosen = severity or entry.severities[0]
    if chosen not in entry.severities:
        raise ValueError(f"{code} is not declared with severity {chosen!r}")
    return Diagnosis(code=code, slug=entry.slug, severity=chosen, **fields)


def family(code: str) -> Family:
    return max((f for f in FAMILIES if code.startswith(f.prefix)), key=lambda f: len(f.prefix))

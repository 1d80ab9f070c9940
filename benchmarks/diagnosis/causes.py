"""The root causes a training cell of the corpus can have, and which nbgrad diagnoses name each.

A case counts as diagnosed when nbgrad reports, at warning or error level, one of its cause's codes.
`codes` lists only the diagnoses whose title and fix point at that cause: a cause without a rule has
an empty tuple, and its cases count as misses until one is written. Codes are those of the README's
"What it diagnoses" table (nbgrad/diagnose/rules/).
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES: dict[str, str] = {
    "graph-cut": "the loss does not reach the parameters (detach, .data, .item(), NumPy, no_grad)",
    "optimizer": "optimizer membership and freezing",
    "clearing": "gradient clearing and step order",
    "learning-rate": "learning rate and schedulers",
    "step-size": "clipping, weight decay, mixed precision",
    "init-depth": "initialisation and depth",
    "activations": "activations",
    "train-mode": "train/eval mode, BatchNorm, dropout",
    "loss-misuse": "loss functions given the wrong thing",
    "data": "data pipeline",
    "sequence": "sequence models",
    "nan": "sources of NaN",
    "regularisation": "regularisation",
    "exceptions": "the exceptions students hit",
}


@dataclass(frozen=True)
class Cause:
    family: str
    description: str
    codes: tuple[str, ...] = ()


CAUSES: dict[str, Cause] = {
    # -- the loss does not reach the parameters ------------------------------------------------
    "detach-in-forward": Cause(
        "graph-cut", ".detach() inside forward cuts the layers before it off from the loss",
        ("NBG101", "NBG102", "NBG901")),
    "data-in-forward": Cause(
        "graph-cut", "a weight is used through .data in forward, so it gets no gradient",
        ("NBG101", "NBG102", "NBG901")),
    "loss-rebuilt-from-item": Cause(
        "graph-cut", "the loss is rebuilt from .item() / float values (torch.tensor(loss), "
        "loss.requires_grad = True), so backward() reaches no parameter",
        ("NBG101", "NBG901", "NBG909")),
    "numpy-roundtrip": Cause(
        "graph-cut", "the model's output goes through NumPy and back, which cuts the graph",
        ("NBG101", "NBG102", "NBG901")),
    "forward-under-no-grad": Cause(
        "graph-cut", "the training forward pass (or part of it) runs under torch.no_grad()",
        ("NBG101", "NBG102", "NBG901")),
    "argmax-in-loss": Cause(
        "graph-cut", "the loss is computed from argmax / round of the output, which has no gradient",
        ("NBG101", "NBG105", "NBG901")),
    "layer-created-in-forward": Cause(
        "graph-cut", "a layer is constructed inside forward(): fresh weights every call, "
        "never in the optimizer", ("NBG103",)),
    # -- optimizer membership and freezing ------------------------------------------------------
    "params-missing-from-optimizer": Cause(
        "optimizer", "trainable parameters (a second module, a head, a learnable loss weight) are "
        "not given to the optimizer", ("NBG201",)),
    "optimizer-on-stale-model": Cause(
        "optimizer", "the optimizer holds the parameters of a model object that was re-created or "
        "replaced afterwards", ("NBG201", "NBG202")),
    "layers-in-python-list": Cause(
        "optimizer", "layers kept in a plain Python list are not registered, so model.parameters() "
        "misses them", ("NBG201",)),
    "wrong-layers-frozen": Cause(
        "optimizer", "requires_grad is switched off on the part that was meant to train",
        ("NBG202", "NBG203")),
    # -- gradient clearing and step order --------------------------------------------------------
    "missing-zero-grad": Cause(
        "clearing", "gradients are never cleared: every step uses the sum of all earlier gradients",
        ("NBG301",)),
    "zero-grad-before-step": Cause(
        "clearing", "zero_grad() sits between backward() and step(): the step sees no gradient",
        ("NBG302",)),
    "missing-step": Cause(
        "clearing", "optimizer.step() is never called", ("NBG305",)),
    "manual-update-no-zero": Cause(
        "clearing", "a hand-written update (w -= lr * w.grad) never clears w.grad", ("NBG301",)),
    # -- learning rate and schedulers ------------------------------------------------------------
    "lr-too-large": Cause(
        "learning-rate", "the learning rate is so large that the loss diverges or oscillates",
        ("NBG403", "NBG702", "NBG703")),
    "lr-too-small": Cause(
        "learning-rate", "the learning rate is so small that the weights barely move",
        ("NBG401", "NBG402")),
    "scheduler-per-batch": Cause(
        "learning-rate", "a per-epoch scheduler is stepped every batch and decays the rate to "
        "nothing within the run", ("NBG401", "NBG402", "NBG408")),
    # -- clipping, weight decay, mixed precision -------------------------------------------------
    "clip-too-tight": Cause(
        "step-size", "a clip threshold far below the gradient norm sets the step size itself",
        ("NBG404",)),
    "clip-after-step": Cause(
        "step-size", "clip_grad_norm_ runs after optimizer.step(), so it clips nothing the step uses",
        ("NBG407",)),
    "clip-scaled-gradients": Cause(
        "step-size", "gradients are clipped while still multiplied by the GradScaler's scale (no "
        "unscale_), so the threshold is thousands of times too tight", ("NBG404",)),
    "weight-decay-too-large": Cause(
        "step-size", "weight decay so large that it outweighs the gradient and shrinks the weights",
        ("NBG405",)),
    # -- initialisation and depth ----------------------------------------------------------------
    "constant-init": Cause(
        "init-depth", "weights initialised to one constant: the units of a layer stay identical",
        ("NBG551",)),
    "init-too-small": Cause(
        "init-depth", "weights initialised far too small: the signal and its gradient vanish with "
        "depth", ("NBG501",)),
    "init-too-large": Cause(
        "init-depth", "weights initialised far too large: activations saturate or gradients explode",
        ("NBG502", "NBG552", "NBG601", "NBG602", "NBG704")),
    "deep-sigmoid-vanishing": Cause(
        "init-depth", "many sigmoid/tanh layers multiply the gradient of the first layers away",
        ("NBG501", "NBG601")),
    # -- activations -----------------------------------------------------------------------------
    "relu-on-output": Cause(
        "activations", "a ReLU on the regression output clips every prediction at 0",
        ("NBG602",)),
    "missing-nonlinearity": Cause(
        "activations", "no activation between the layers: the whole model is one linear map",
        ("NBG603",)),
    "output-activation-range": Cause(
        "activations", "a sigmoid/tanh output cannot reach the range of the targets",
        ("NBG601", "NBG852")),
    # -- train/eval mode -------------------------------------------------------------------------
    "eval-mode-while-training": Cause(
        "train-mode", "the model is left in eval() mode while it trains (dropout off, BatchNorm on "
        "running statistics)", ("NBG651",)),
    "batchnorm-batch-of-one": Cause(
        "train-mode", "BatchNorm gets a batch of one example in training", ("NBG652",)),
    # -- loss functions --------------------------------------------------------------------------
    "softmax-before-cross-entropy": Cause(
        "loss-misuse", "softmax is applied before CrossEntropyLoss, which applies log_softmax itself",
        ("NBG801",)),
    "nll-on-probabilities": Cause(
        "loss-misuse", "NLLLoss gets probabilities (softmax) instead of log-probabilities",
        ("NBG803",)),
    "sigmoid-before-bce-with-logits": Cause(
        "loss-misuse", "sigmoid is applied before BCEWithLogitsLoss, which applies it itself",
        ("NBG801",)),
    "bce-without-sigmoid": Cause(
        "loss-misuse", "BCELoss gets raw scores where it expects probabilities", ("NBG807",)),
    "loss-reduction-sum": Cause(
        "loss-misuse", "reduction='sum' multiplies the gradient by the batch size under a learning "
        "rate tuned for the mean", ("NBG403", "NBG702", "NBG703", "NBG813")),
    "wrong-softmax-dim": Cause(
        "loss-misuse", "softmax / log_softmax is taken over the batch axis instead of the classes",
        ("NBG811",)),
    "loss-shape-broadcast": Cause(
        "loss-misuse", "prediction (N, 1) and target (N,) broadcast to (N, N) in the loss",
        ("NBG804",)),
    "kldiv-on-probabilities": Cause(
        "loss-misuse", "KLDivLoss gets probabilities where it expects log-probabilities",
        ("NBG808",)),
    "ctc-without-log-softmax": Cause(
        "loss-misuse", "CTCLoss gets raw scores where it expects log_softmax over the classes",
        ("NBG809",)),
    "one-hot-targets": Cause(
        "loss-misuse", "one-hot rows are passed where CrossEntropyLoss expects class indices",
        ("NBG904", "NBG908")),
    "class-label-out-of-range": Cause(
        "loss-misuse", "class labels outside 0..C-1 (1-based labels, raw mask values)", ("NBG805",)),
    "cross-entropy-target-shape": Cause(
        "loss-misuse", "CrossEntropyLoss gets targets of shape (N, 1) instead of (N,)", ("NBG908",)),
    # -- data pipeline ---------------------------------------------------------------------------
    "labels-shuffled-separately": Cause(
        "data", "inputs and labels are shuffled (or split) independently, so they no longer pair",
        ("NBG861",)),
    "same-batch-every-step": Cause(
        "data", "the loop trains on the same batch every step (next(iter(loader)) inside the loop)",
        ("NBG862",)),
    "unnormalised-inputs": Cause(
        "data", "inputs on a far-off scale (raw pixels 0-255, unscaled features)", ("NBG851",)),
    "unnormalised-targets": Cause(
        "data", "regression targets on a far-off scale (prices, counts)", ("NBG852",)),
    "view-instead-of-permute": Cause(
        "data", "view/reshape used to reorder axes, which scrambles the values", ("NBG864",)),
    "unshuffled-sorted-data": Cause(
        "data", "data sorted by class and not shuffled: each batch holds one class", ("NBG863",)),
    # -- sequence models -------------------------------------------------------------------------
    "hidden-state-not-detached": Cause(
        "sequence", "a recurrent hidden state is carried across batches without detach()",
        ("NBG902",)),
    "batch-first-mismatch": Cause(
        "sequence", "(batch, time, features) input to an RNN built with batch_first=False, or the "
        "last step taken on the wrong axis", ("NBG871",)),
    "padding-not-masked": Cause(
        "sequence", "padding positions count in the loss (no ignore_index / mask)", ("NBG812",)),
    # -- sources of NaN --------------------------------------------------------------------------
    "log-of-zero": Cause(
        "nan", "log of a probability that reaches 0 (hand-written cross-entropy or focal loss)",
        ("NBG503",)),
    "sqrt-at-zero": Cause(
        "nan", "sqrt / norm of an exact zero, whose gradient is infinite", ("NBG503",)),
    "division-by-zero": Cause(
        "nan", "division by a quantity that is zero (a constant feature's std, an empty count)",
        ("NBG503",)),
    # -- regularisation --------------------------------------------------------------------------
    "penalty-dominates": Cause(
        "regularisation", "a hand-written L1/L2 penalty whose weight swamps the data loss",
        ("NBG409",)),
    # -- exceptions ------------------------------------------------------------------------------
    "backward-twice": Cause(
        "exceptions", "backward() through a graph an earlier backward() freed (an output computed "
        "once outside the loop)", ("NBG902",)),
    "inplace-modification": Cause(
        "exceptions", "an in-place operation changes a tensor that backward() needs", ("NBG903",)),
    "dtype-mismatch": Cause(
        "exceptions", "float64 inputs (from NumPy) or integer targets meet float32 weights",
        ("NBG904",)),
    "linear-shape-mismatch": Cause(
        "exceptions", "a Linear layer's in_features does not match the flattened input",
        ("NBG906",)),
    "backward-non-scalar": Cause(
        "exceptions", "backward() on an unreduced loss (several values)", ("NBG910",)),
    "non-leaf-parameter": Cause(
        "exceptions", "a weight made by an operation (randn(..., requires_grad=True) * 0.01, "
        ".to(device) afterwards) is not a leaf the optimizer can update", ("NBG907",)),
}


def family_of(cause: str) -> str:
    return CAUSES[cause].family

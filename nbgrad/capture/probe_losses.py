"""What the loss functions of one window received, and which way their gradient pushes.

Two kinds of calls are recorded: the loss functions of torch.nn.functional (through nn.*Loss
modules too) and `prediction - target` in a hand-written loss. For each, a gradient hook on the
prediction measures whether minimising the loss moves the predictions towards the targets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from nbgrad.capture import forward_stats, label_stats
from nbgrad.capture.callsite import cell_line
from nbgrad.capture.probe_raw import (
    CLASS_LOSSES,
    DISTRIBUTION_LOSSES,
    REGRESSION_LOSSES,
    RawLoss,
)

if TYPE_CHECKING:
    from nbgrad.capture.probe import Probe


class LossWatcher:
    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.records: list[RawLoss] = []
        self.last: RawLoss | None = None  # the record of the loss call now running

    def subtraction(self, args: Any, line: int | None, module: int | None) -> None:
        """`a - b` where one side is the model's output and the other needs no gradient."""
        window = self.probe.window
        if window is None or len(args) < 2 or not all(isinstance(a, torch.Tensor) for a in args[:2]):
            return
        first, second = self.probe.find(args[0]), self.probe.find(args[1])
        if first is not None and first.prediction and not args[1].requires_grad:
            prediction, target = args[0], args[1]
        elif second is not None and second.prediction and not args[0].requires_grad:
            prediction, target = args[1], args[0]
        else:
            return
        if any(r.function == "subtraction" and r.line == line and r.step == window.step
               for r in self.records):
            return
        self.record("subtraction", prediction, target, {}, line, module)

    def on_loss(self, name: str, args: Any, kwargs: dict[str, Any]) -> None:
        self.last = None
        prediction = args[0] if args else kwargs.get("input")
        target = args[1] if len(args) > 1 else kwargs.get("target")
        if not isinstance(prediction, torch.Tensor) or not isinstance(target, torch.Tensor):
            return
        window = self.probe.window
        assert window is not None
        module = id(window.stack[-1]) if window.stack else None
        self.record(name, prediction, target, kwargs, cell_line(self.probe.filename), module,
                    args=args)

    def record(self, name: str, prediction: torch.Tensor, target: torch.Tensor,
               kwargs: dict[str, Any], line: int | None, module: int | None, args: Any = ()) -> None:
        window = self.probe.window
        assert window is not None
        tag = self.probe.find(prediction)
        classed = name in CLASS_LOSSES and not target.is_floating_point()
        class_dim = 1 if prediction.dim() >= 2 else 0
        over: int | None = class_dim if classed else None  # the axis a distribution sums over
        if name in DISTRIBUTION_LOSSES:  # log-probabilities along the last axis
            over = class_dim = max(prediction.dim() - 1, 0)
        record = RawLoss(
            function=name, step=window.step, line=line, module=module,
            input_shape=list(prediction.shape), target_shape=list(target.shape),
            target_dtype=str(target.dtype).replace("torch.", ""),
            input_from=tag.op if tag is not None else "",
            input_from_line=tag.line if tag is not None else None,
            prediction_tagged=tag is not None and tag.prediction,
            value_range=forward_stats.value_range(prediction, over),
            target=forward_stats.summary(target), prediction=forward_stats.summary(prediction),
            reduction=str(kwargs.get("reduction", "mean")),
            input_module=tag.first_module if tag is not None else None,
            input_cuts=tag.cuts if tag is not None else (),
            input_normaliser=tag.normaliser if tag is not None else None,
        )
        if name in REGRESSION_LOSSES:
            record.levels = label_stats.integer_levels(target)
        if name in DISTRIBUTION_LOSSES and prediction.dim():
            record.log_sum = prediction.detach().float().logsumexp(class_dim).abs().amax()
        if tag is not None and tag.activation is not None:
            self.probe.activations[tag.activation].feeds_loss = True
        if classed:
            record.classes = prediction.shape[class_dim] if prediction.dim() else None
            ignore = kwargs.get("ignore_index", args[4] if len(args) > 4 else -100)
            record.ignore_index = ignore if isinstance(ignore, int) else -100
            record.labels = forward_stats.label_range(target, record.ignore_index)
            record.label_stats = _label_stats(name, prediction, target, record.ignore_index)
        elif prediction.shape != target.shape and name != "ctc_loss":  # CTC's never match
            try:
                shape = torch.broadcast_shapes(prediction.shape, target.shape)
            except RuntimeError:
                shape = None
            if shape is not None and shape.numel() > max(prediction.numel(), target.numel()):
                record.broadcast_shape = list(shape)
        self.records.append(record)
        self.last = record
        self.watch_gradient(record, prediction, target, classed)

    def on_warnings(self, messages: list[str]) -> None:
        """What torch warned while computing the loss just recorded ("Using a target size that
        is different to the input size"): evidence beside an error that follows."""
        if self.last is not None:
            self.last.warnings.extend(m.splitlines()[0][:300] for m in messages[:3])

    def watch_gradient(self, record: RawLoss, prediction: torch.Tensor, target: torch.Tensor,
                       classed: bool) -> None:
        """Hook the prediction's gradient: does minimising the loss move it towards the target?"""
        if not (torch.is_grad_enabled() and prediction.requires_grad) or \
                record.function in DISTRIBUTION_LOSSES:
            return
        if classed and prediction.dim() == 2 and target.dim() == 1:
            labels = target.detach()

            def on_grad(grad: torch.Tensor) -> None:
                if record.alignment is None:
                    record.alignment = self.probe.safely(forward_stats.class_alignment, grad, labels)
        elif (not classed and prediction.shape == target.shape and target.is_floating_point()
              and record.function != "binary_cross_entropy_with_logits"):
            record.distance = forward_stats.rms_distance(prediction, target)
            # references, not a copy of target - prediction (as large as the model's output):
            # the loss keeps both alive for its backward anyway; the window drops them
            kept = [target.detach(), prediction.detach()]
            versions = [t._version for t in kept]
            self.probe.kept.append(kept)

            def on_grad(grad: torch.Tensor) -> None:
                if (record.alignment is None and kept
                        and [t._version for t in kept] == versions):  # unchanged since the forward
                    record.alignment = self.probe.safely(forward_stats.elementwise_alignment,
                                                         grad, kept[0], kept[1])
        else:
            return
        self.probe.grad_hooks.append(prediction.register_hook(on_grad))


def _label_stats(name: str, prediction: torch.Tensor, target: torch.Tensor,
                 ignore: int) -> torch.Tensor | None:
    """label_stats.measure, or None where it cannot run (a shape the loss itself would reject,
    an algorithm that deterministic mode forbids): the loss call is still recorded."""
    try:
        return label_stats.measure(name, prediction, target, ignore)
    except Exception:
        return None

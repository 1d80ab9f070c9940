"""Facts about the recorded steps: per-optimizer series of losses, gradients, updates and lrs.

Losses are always read per optimizer: a GAN's discriminator and generator minimise different
losses, and comparing one's first step with the other's last says nothing about either.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from nbgrad import numbers
from nbgrad.records import Run, StepRecord
from nbgrad.thresholds import SAME_BATCH_TOLERANCE, STALE_GRAD_FRACTION, STALL_MIN_DROP


def finite(values: Iterable[float | None]) -> list[float]:
    """The values that are numbers (not None, NaN or Inf)."""
    return [v for v in values if v is not None and math.isfinite(v)]


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def steps_of(run: Run, optimizer: int) -> list[StepRecord]:
    return [s for s in run.steps if s.optimizer == optimizer]


def step_loss(step: StepRecord, closure: bool = False) -> float | None:
    """The loss a step was computed from: a closure's first evaluation, else the mean of the
    step's losses (gradient accumulation over micro-batches gives several)."""
    values = [v for v in step.losses if v is not None]
    if not values:
        return None
    return values[0] if closure else sum(values) / len(values)


def loss_series(run: Run, optimizer: int) -> list[float | None]:
    """The loss of each step of one optimizer (for manual updates: optimizer -1)."""
    if optimizer < 0:
        return [step_loss(s) for s in run.manual_steps]
    closure = run.optimizers[optimizer].closure
    return [step_loss(s, closure) for s in steps_of(run, optimizer)]


def loss_nonfinite(run: Run) -> bool:
    return any(v is not None and not math.isfinite(v) for s in run.steps for v in s.losses)


def adversarial(run: Run) -> bool:
    """Two or more optimizers that each step on a loss of their own (a GAN)."""
    own = {s.optimizer for s in run.steps if s.backward_calls > 0 and s.losses}
    return len(own) >= 2


@dataclass
class LossTrend:
    """One optimizer's loss from its first recorded step to its last."""

    optimizer: str  # its name; "" when it is the only optimizer (or manual updates)
    first: float
    last: float
    steps: int

    @property
    def drop(self) -> float:
        """Relative fall from the first to the last step (negative: the loss rose)."""
        return (self.first - self.last) / abs(self.first) if self.first else 0.0

    @property
    def falling(self) -> bool:
        return self.drop >= STALL_MIN_DROP

    def text(self) -> str:
        whose = f"the loss of '{self.optimizer}'" if self.optimizer else "the loss"
        return (f"{whose} went from {numbers.fmt(self.first)} to {numbers.fmt(self.last)} over "
                f"{self.steps} steps")


def loss_trends(run: Run) -> list[LossTrend]:
    """Each optimizer's trend (manual updates count as one); none with under 2 finite losses."""
    owners = list(range(len(run.optimizers))) if run.steps else [-1]
    named = len([o for o in owners if o >= 0 and steps_of(run, o)]) > 1
    found = []
    for owner in owners:
        values = [v for v in loss_series(run, owner) if v is not None]
        if len(values) < 2 or not all(math.isfinite(v) for v in values):
            continue
        name = run.optimizers[owner].name if owner >= 0 and named else ""
        found.append(LossTrend(name, values[0], values[-1], len(values)))
    return found


def same_batch(run: Run, optimizer: int) -> bool:
    """Every step of the optimizer saw the same first-layer input: loss changes are the model's."""
    prints = [s.batch_fingerprint for s in steps_of(run, optimizer)]
    known = [p for p in prints if p is not None]
    if not prints or len(known) < len(prints):
        return False
    first = known[0]
    return all(math.isclose(a, b, rel_tol=SAME_BATCH_TOLERANCE, abs_tol=1e-12)
               for p in known for a, b in zip(first, p))


def grad_total(step: StepRecord, params: Iterable[str]) -> float | None:
    """Total gradient norm of `params` at the step (None: none of them had a gradient)."""
    values = [step.params[p].grad_norm for p in params if p in step.params]
    present = [v for v in values if v is not None]
    return math.sqrt(sum(v * v for v in present)) if present else None


def optimizer_params(run: Run, optimizer: int) -> list[str]:
    return [p for group in run.optimizers[optimizer].param_groups for p in group]


def step_grad(run: Run, step: StepRecord) -> float | None:
    """Total gradient norm the stepping optimizer's parameters had at the step."""
    return grad_total(step, optimizer_params(run, step.optimizer))


def leftover_grads(run: Run, step: StepRecord) -> bool:
    """The step's first backward() found gradients of earlier steps not cleared."""
    stale = step.stale_grad_norm
    own = step_grad(run, step) or 0.0
    return stale is not None and stale > 0 and stale > STALE_GRAD_FRACTION * own


def learnable(run: Run, param: str) -> bool:
    """A parameter that can learn: it asks for gradients and has values (an empty placeholder such
    as `nn.Parameter(torch.empty(0))` never gets a gradient and needs none)."""
    info = run.params.get(param)
    return info is not None and info.requires_grad and info.numel > 0


def nonzero(value: float | None) -> bool:
    """A measured norm that is not 0: NaN and Inf count (the loss did reach the parameter)."""
    return value is not None and value != 0


def got_grad(run: Run, param: str) -> bool:
    """Whether the param had a non-zero gradient (or a NaN/Inf one) at any recorded step."""
    return any(nonzero(s.params[param].grad_norm) for s in run.steps if param in s.params)


def moved(run: Run, param: str) -> bool:
    """Whether the param changed during the run: updated by a step, or its norm changed."""
    stats = [s.params[param] for s in run.steps if param in s.params]
    if any(nonzero(st.update_norm) for st in stats):
        return True
    norms = [st.param_norm for st in stats]
    return len(set(norms)) > 1


def layer_update_ratios(run: Run, optimizer: int) -> dict[str, float]:
    """Median update/param ratio of each layer over the optimizer's steps.

    Layers whose weights are all zero have no meaningful ratio (inf) and are left out.
    """
    out: dict[str, float] = {}
    steps = steps_of(run, optimizer)
    for layer in run.layers:
        values = finite(s.layers[layer].update_to_param_ratio for s in steps if layer in s.layers)
        if values:
            out[layer] = statistics.median(values)
    return out


def lr_series(run: Run, optimizer: int, group: int = 0) -> list[float]:
    out = []
    for s in steps_of(run, optimizer):
        lr = s.lr[group] if len(s.lr) > group else None
        if isinstance(lr, (int, float)):
            out.append(float(lr))
    return out


def growing_lr(run: Run, optimizer: int, group: int = 0) -> bool:
    """A warm-up: the lr rose during the run (or the scheduler raised it after the last step)."""
    lrs = lr_series(run, optimizer, group)
    after = run.optimizers[optimizer].after.groups
    last = after[group].get("lr") if len(after) > group else None
    if isinstance(last, (int, float)):
        lrs = [*lrs, float(last)]
    return len(lrs) >= 2 and lrs[-1] > lrs[0]

"""Facts several rules read off a run: per-optimizer series, who moved, which cell line does what.

Pure functions over records, so each rule states its condition in a few lines and two rules never
compute the same thing differently.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable

from nbgrad import numbers
from nbgrad.records import Run, StepRecord
from nbgrad.thresholds import SAME_BATCH_TOLERANCE, STALE_GRAD_FRACTION

# -- steps and series ------------------------------------------------------------------------------


def finite(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def steps_of(run: Run, optimizer: int) -> list[StepRecord]:
    return [s for s in run.steps if s.optimizer == optimizer]


def step_loss(step: StepRecord, closure: bool = False) -> float | None:
    """The loss a step was computed from: a closure's first evaluation, else the mean of the
    window's losses (gradient accumulation over micro-batches gives several)."""
    values = [v for v in step.losses if v is not None]
    if not values:
        return None
    return values[0] if closure else sum(values) / len(values)


def loss_series(run: Run, optimizer: int) -> list[float | None]:
    closure = run.optimizers[optimizer].closure
    return [step_loss(s, closure) for s in steps_of(run, optimizer)]


def same_batch(run: Run, optimizer: int) -> bool:
    """Every step of the optimizer saw the same first-layer input: loss changes are the model's."""
    prints = [s.batch_fingerprint for s in steps_of(run, optimizer)]
    if not prints or any(p is None for p in prints):
        return False
    first = prints[0]
    assert first is not None
    return all(math.isclose(a, b, rel_tol=SAME_BATCH_TOLERANCE, abs_tol=1e-12)
               for p in prints for a, b in zip(first, p))  # type: ignore[arg-type]


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
    return stale is not None and stale > 0 and stale > STALE_GRAD_FRACTION * (step_grad(run, step)
                                                                            or 0.0)


def got_grad(run: Run, param: str) -> bool:
    """Whether the param had a non-zero gradient at any recorded step."""
    return any((s.params[param].grad_norm or 0.0) > 0 for s in run.steps if param in s.params)


def moved(run: Run, param: str) -> bool:
    """Whether the param changed during the run: updated by a step, or its norm changed."""
    stats = [s.params[param] for s in run.steps if param in s.params]
    if any((st.update_norm or 0.0) > 0 for st in stats):
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
    return [float(s.lr[group]) for s in steps_of(run, optimizer)
            if len(s.lr) > group and isinstance(s.lr[group], (int, float))]


def growing_lr(run: Run, optimizer: int, group: int = 0) -> bool:
    """A warm-up: the lr rose during the run (or the scheduler raised it after the last step)."""
    lrs = lr_series(run, optimizer, group)
    after = run.optimizers[optimizer].after.groups
    last = after[group].get("lr") if len(after) > group else None
    if isinstance(last, (int, float)):
        lrs = [*lrs, float(last)]
    return len(lrs) >= 2 and lrs[-1] > lrs[0]


# -- events and cell lines -------------------------------------------------------------------------


def first_line(run: Run, kind: str) -> int | None:
    """The cell line of the first event of this kind."""
    return next((e.line for e in run.events if e.kind == kind and e.line is not None), None)


def cell_lines(run: Run) -> list[tuple[int, str]]:
    """(line number as the user sees it, text) of every line of the cell."""
    return [(run.first_line + i, text) for i, text in enumerate(run.source.splitlines())]


def receiver(run: Run, line: int | None, method: str) -> str | None:
    """The name `method` is called on at `line`: `model` in `model.parameters()`."""
    found = re.search(rf"([A-Za-z_][\w.]*)\s*\.{method}\s*\(", run.cell_line(line))
    return found.group(1) if found else None


def backward_variable(run: Run, line: int | None) -> str | None:
    """The name `backward()` was called on at `line` (`loss` in `loss.backward()`)."""
    return receiver(run, line, "backward")


def assignment_line(run: Run, name: str, before: int | None) -> int | None:
    """The last line before `before` that assigns `name` (where a loss is computed)."""
    if before is None:
        return None
    pattern = re.compile(rf"^\s*(?:[\w\s,]*,\s*)?{re.escape(name)}\s*(?:,[\w\s,]*)?(?:\+|-|\*|/)?=(?!=)")
    found = [n for n, text in cell_lines(run) if n < before and pattern.search(text)]
    return found[-1] if found else None


def line_matching(run: Run, pattern: str, default: int | None = None) -> int | None:
    """The first cell line matching the regular expression, else `default`."""
    regex = re.compile(pattern)
    return next((n for n, text in cell_lines(run) if regex.search(text)), default)


def layer_names(items: Iterable[str], limit: int = 4) -> str:
    """'layer fc1' / 'layers 0, 2': bare layer names (Sequential's are numbers) read as names."""
    items = list(items)
    return ("layer " if len(items) == 1 else "layers ") + names(items, limit)


def names(items: Iterable[str], limit: int = 4) -> str:
    """'a, b, c and 2 more' for evidence lines."""
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def fmt(value: float | None) -> str:
    """A number as evidence shows it ("none" when there is none)."""
    return numbers.fmt(value, missing="none")


def with_keyword(text: str, key: str, value: str) -> str | None:
    """The line with `key=...` set to `value`, None when the line has no such keyword."""
    pattern = re.compile(rf"\b{re.escape(key)}\s*=\s*[^,)]+")
    if not pattern.search(text):
        return None
    return pattern.sub(f"{key}={value}", text.strip(), count=1)


def power_of_ten(value: float) -> str:
    """The power of ten nearest to `value` on a log scale, written as a literal (`1e-3`, `0.1`)."""
    exponent = round(math.log10(value))
    return f"{10.0 ** exponent:g}" if -4 <= exponent <= 3 else f"1e{exponent}"

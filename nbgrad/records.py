"""Plain, typed records of one gradcheck run.

Everything the rules and renderers need lives here as numbers and strings: no torch tensors and no
IPython objects, so a run can be saved as JSON, loaded elsewhere and diagnosed or rendered again
without training anything.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 1

StopReason = Literal["steps", "finished", "timeout", "error", "interrupt"]
EventKind = Literal["backward", "zero_grad", "step", "step_skipped"]


@dataclass
class CallSite:
    """Where in the cell something was called (1-based line as the user sees the cell)."""

    line: int | None
    text: str = ""


@dataclass
class Event:
    """One training-loop call, in the order it happened.

    `step` counts the optimizer steps completed before the event, so events with the same `step`
    belong to one iteration of the user's loop.
    """

    kind: EventKind
    step: int
    line: int | None
    target: str = ""  # which optimizer / module the call was made on
    detail: str = ""  # e.g. "set_to_none=True"


@dataclass
class ParamInfo:
    """What does not change from step to step about one parameter."""

    name: str
    layer: str
    shape: list[int]
    numel: int
    dtype: str
    device: str
    requires_grad: bool
    optimizer: int | None  # index into Run.optimizers, None when no optimizer holds it
    param_group: int | None
    aliases: list[str] = field(default_factory=list)  # other names of a tied parameter


@dataclass
class LayerInfo:
    """A module that owns parameters directly (or ran without any)."""

    name: str
    type: str
    params: list[str]
    training: bool


@dataclass
class ParamStats:
    """One parameter at one optimizer step.

    `grad_norm` is None when the parameter had no gradient (`.grad is None`), which is different
    from a gradient of zeros. `update_norm` is None when the stepping optimizer does not hold it.
    """

    grad_norm: float | None
    grad_zero_fraction: float | None
    param_norm: float
    update_norm: float | None
    update_to_param_ratio: float | None


@dataclass
class LayerStats:
    """ParamStats over the parameters a layer owns directly (norms combine as root of sum of squares)."""

    grad_norm: float | None
    grad_zero_fraction: float | None
    param_norm: float
    update_norm: float | None
    update_to_param_ratio: float | None


@dataclass
class StepRecord:
    """One `optimizer.step()` call and the gradients it saw."""

    index: int
    optimizer: int
    losses: list[float | None]  # the values `backward()` was called on during this step's iteration
    backward_calls: int
    lr: list[float | None]  # per param group, at the time of the step
    grads_before_backward: float | None  # total grad norm already present at the first backward
    grads_present_before_backward: bool  # any `.grad` not None at the first backward
    duration_s: float
    params: dict[str, ParamStats] = field(default_factory=dict)
    layers: dict[str, LayerStats] = field(default_factory=dict)


@dataclass
class OptimizerState:
    """Hyperparameters per param group and the norms of each state buffer per parameter."""

    groups: list[dict[str, Any]]
    buffers: dict[str, dict[str, float]]  # param name -> buffer name -> norm (or scalar value)


@dataclass
class OptimizerRecord:
    name: str
    type: str
    param_groups: list[list[str]]  # param names per group
    steps: int
    before: OptimizerState
    after: OptimizerState
    closure: bool = False


@dataclass
class ErrorInfo:
    type: str
    message: str
    line: int | None


@dataclass
class RestoreInfo:
    """What happened to the user's objects after the run (restored in place, or kept).

    `objects` names what existed before the cell and was put back (the names the user knows);
    `failed` says what could not be, and why. Sizes are of the host copy taken before the cell.
    """

    mode: Literal["restored", "kept"]
    objects: list[str] = field(default_factory=list)
    rng: list[str] = field(default_factory=list)  # which generators: torch, cuda, numpy, random, ...
    bytes: int = 0
    snapshot_s: float = 0.0
    restore_s: float = 0.0
    failed: list[str] = field(default_factory=list)
    reason: str = ""  # why the changes were kept: "--keep", or nbgrad's own failure


@dataclass
class Run:
    """Everything recorded during one gradcheck."""

    source: str
    first_line: int  # the line number the source's first line has in the user's cell
    steps_requested: int
    timeout_s: float
    stopped_by: StopReason
    elapsed_s: float
    params: dict[str, ParamInfo] = field(default_factory=dict)
    layers: dict[str, LayerInfo] = field(default_factory=dict)
    optimizers: list[OptimizerRecord] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    losses_after_last_step: list[float | None] = field(default_factory=list)
    error: ErrorInfo | None = None
    torch_version: str = ""
    nbgrad_version: str = ""
    schema_version: int = SCHEMA_VERSION
    restore: RestoreInfo | None = None

    @property
    def backward_calls(self) -> int:
        return sum(1 for e in self.events if e.kind == "backward")

    def cell_line(self, line: int | None) -> str:
        """The text of a cell line as the user sees it, '' when unknown."""
        if line is None:
            return ""
        lines = self.source.splitlines()
        index = line - self.first_line
        return lines[index].strip() if 0 <= index < len(lines) else ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        return _build(cls, data)

    @classmethod
    def from_json(cls, text: str) -> Run:
        return cls.from_dict(json.loads(text))


def _build(tp: Any, value: Any) -> Any:
    """Rebuild typed data from JSON-shaped `value`, guided by the annotation `tp`."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        kwargs = {f.name: _build(hints[f.name], value[f.name]) for f in dataclasses.fields(tp)
                  if f.name in value}
        return tp(**kwargs)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(options[0], value) if len(options) == 1 else value
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_build(item, v) for v in value]
    if origin is dict:
        _, item = typing.get_args(tp)
        return {k: _build(item, v) for k, v in value.items()}
    return value

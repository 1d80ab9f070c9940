"""Plain, typed records of one gradcheck run.

Everything the rules and renderers need lives here as numbers and strings: no torch tensors and no
IPython objects, so a run can be saved as JSON, loaded elsewhere and diagnosed or rendered again
without training anything.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 1
# where ActivationRecord.slope_shares cuts the slope (as a share of the function's largest slope):
# eight intervals per decade from 1e-6 to 1
SLOPE_EDGES = [10 ** (-6 + k / 8) for k in range(49)]

# "rank": another rank of a torchrun job ended first (it raised, timed out or was interrupted)
StopReason = Literal["steps", "finished", "timeout", "error", "interrupt", "skipped", "rank"]
EventKind = Literal["backward", "zero_grad", "step", "step_skipped", "manual_update", "clip"]


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
    value: float | None = None  # step_skipped: the GradScaler's scale; clip: the norm before clipping


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
    previously: str = ""  # the variable that held its model before the cell re-created it


@dataclass
class LayerInfo:
    """A module that owns parameters directly (or ran without any)."""

    name: str
    type: str
    params: list[str]
    training: bool
    aliases: list[str] = field(default_factory=list)  # the full name inside a wrapper (`module.fc`)
    forward_order: int | None = None  # rank of its first forward call in the run; None: never ran
    forward_line: int | None = None  # the cell line from which it first ran
    first_step: int | None = None  # optimizer steps completed when it first ran
    container: str | None = None  # a plain list/dict attribute that holds it (e.g. "model.layers")


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
    grad_scale: float | None = None  # a GradScaler's loss scale; losses are reported unscaled
    # gradient norm the stepping optimizer's params already held at this step's first backward()
    # (left over from earlier steps); None when no backward() came between the previous step and this
    stale_grad_norm: float | None = None
    # gradient norm the stepping optimizer's params held right after this step's first backward()
    backward_grad_norm: float | None = None
    # sum and sum of squares of the first layer's input: equal at two steps when the batch is
    batch_fingerprint: list[float] | None = None


@dataclass
class SkippedStep:
    """A `GradScaler.step()` that did not call `optimizer.step()`: the gradients were not finite.

    A scaler skips such steps on purpose (and lowers its scale), so one skipped step is no bug;
    a scaler that skips every step is.
    """

    after_step: int  # optimizer steps completed before it
    optimizer: int
    losses: list[float | None]
    backward_calls: int
    grad_scale: float | None
    nonfinite_params: list[str] = field(default_factory=list)  # params whose gradient had inf/NaN


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
    skipped_steps: int = 0  # GradScaler steps that skipped this optimizer (not counted in `steps`)


@dataclass
class LoopLength:
    """A `for` loop of the cell and how many items its iterable holds (batches of a DataLoader)."""

    line: int  # the cell line of the `for`
    iterable: str  # as written: "loader", "data.train_loader"
    length: int


@dataclass
class ErrorInfo:
    type: str
    message: str
    line: int | None


@dataclass
class SavedFile:
    """A file that existed before the check and that the cell saved to: left as it was."""

    path: str
    written_to: str  # where the check's version was written instead


@dataclass
class RestoreInfo:
    """What happened to the user's objects after the run (restored in place, or kept).

    `objects` names what existed before the cell and was put back (the names the user knows);
    `failed` says what could not be, and why. Sizes are of the host copy, taken before the cell
    for what its code names and when the steps first use it for the rest.
    """

    mode: Literal["restored", "kept"]
    objects: list[str] = field(default_factory=list)
    rng: list[str] = field(default_factory=list)  # which generators: torch, cuda, numpy, random, ...
    bytes: int = 0
    snapshot_s: float = 0.0
    restore_s: float = 0.0
    failed: list[str] = field(default_factory=list)
    reason: str = ""  # why the changes were kept: "--keep", or nbgrad's own failure
    # existed before the cell, but no name reaches them (by class name): copied when the steps
    # first ran them, so a change the cell made before that is kept
    copied_at_first_use: list[str] = field(default_factory=list)
    not_copied: list[str] = field(default_factory=list)  # found, never used by the steps: untouched
    files_redirected: list[SavedFile] = field(default_factory=list)
    files_written: list[str] = field(default_factory=list)  # new files the cell saved: kept


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
    skipped_steps: list[SkippedStep] = field(default_factory=list)
    # Updates made without any optimizer (`p -= lr * p.grad` under no_grad): one record per change
    # of the parameters between two backward() calls; `optimizer` is -1 and `lr` is empty.
    manual_steps: list[StepRecord] = field(default_factory=list)
    forward: ForwardRecord = field(default_factory=lambda: ForwardRecord())  # defined below
    restore: RestoreInfo | None = None
    # layers and parameters as the user writes them in Python, where that differs from the
    # recorded name: "0" -> "model[0]", "fc1.weight" -> "model.fc1.weight"
    written: dict[str, str] = field(default_factory=dict)
    loops: list[LoopLength] = field(default_factory=list)  # the cell's loops of a known length
    # one entry per process of a torchrun job (nbgrad/distributed): the run's own rank, and after
    # the merge every rank; empty for a run in one process
    ranks: list[RankRecord] = field(default_factory=list)  # defined below
    not_measured: list[str] = field(default_factory=list)  # what the run left out, and why

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
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
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


# -- what the forward pass showed (capture/probe.py) ------------------------------------------------
@dataclass
class TensorSummary:
    """Scale of one tensor: what the input or the target of a model looked like."""

    shape: list[int]
    dtype: str
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    nonfinite: int = 0


@dataclass
class ModelInput:
    """The first tensor an outermost module (the model) received in a detail window."""

    layer: str
    step: int
    line: int | None  # the cell line that called the model
    summary: TensorSummary


@dataclass
class ModuleCall:
    """A module's first forward call in a detail window, with the mode it ran in."""

    layer: str
    type: str
    step: int
    training: bool
    batch_size: int | None = None
    output_nonfinite: bool | None = None  # None: not checked
    root_layer: str = ""  # the outermost module running when it was called (itself for a model)
    output_requires_grad: bool | None = None  # on the gradient's path


@dataclass
class ActivationRecord:
    """Statistics of one activation's output (a module like nn.Sigmoid or a call like F.relu).

    `mean_slope` is the activation's derivative averaged over its output (sigmoid: at most 0.25,
    tanh and relu: at most 1); `dead_units` counts units that were zero for every sample seen.
    """

    layer: str  # the module that ran it (for a function: the module whose forward called it)
    kind: str  # sigmoid / tanh / relu
    source: str  # "module" or "function"
    after: str  # the layer whose output it received ("" when not a module's output)
    step: int
    line: int | None
    numel: int
    units: int
    samples_per_unit: int
    saturated_fraction: float | None = None
    mean_slope: float | None = None
    zero_fraction: float | None = None
    dead_units: int | None = None
    nonfinite: int = 0  # 1 when any value was NaN/Inf
    feeds_loss: bool = False
    # sigmoid/tanh: share of the values whose slope (as a share of the largest) is below
    # SLOPE_EDGES[0], then in each interval between two edges; None for relu
    slope_shares: list[float] | None = None

    def saturated_share(self, slope: float) -> float | None:
        """Share of the values whose slope is below `slope` times the function's largest slope,
        read off `slope_shares` (log-linear within the interval that holds `slope`)."""
        shares = self.slope_shares
        if not shares or slope <= 0:
            return None
        total = shares[0]
        for share, low, high in zip(shares[1:], SLOPE_EDGES, SLOPE_EDGES[1:]):
            if slope >= high:
                total += share
            elif slope > low:
                total += share * math.log(slope / low) / math.log(high / low)
        return total

    @property
    def dead_fraction(self) -> float | None:
        """Share of units that were zero for every sample; None when not counted (or no units)."""
        return self.dead_units / self.units if self.dead_units is not None and self.units else None


@dataclass
class LossCall:
    """What a loss received: the loss functions of torch.nn.functional, or `prediction - target`.

    `descent_alignment` is the cosine between minus the loss's gradient on the prediction and the
    direction towards the target (`target - prediction`; for class labels: towards the labelled
    class). Positive: the step moves predictions towards the targets.
    """

    function: str  # cross_entropy, nll_loss, mse_loss, ..., or "subtraction"
    step: int
    line: int | None
    layer: str  # the loss module it ran in ("criterion"), "" for a plain call
    input_shape: list[int]
    target_shape: list[int]
    target_dtype: str
    input_from: str = ""  # the operation that made the input: softmax, sigmoid, log_softmax, ...
    input_from_line: int | None = None
    input_is_model_output: bool = False
    input_min: float | None = None
    input_max: float | None = None
    input_row_sum_error: float | None = None  # max |sum over classes - 1|, for class dim inputs
    target: TensorSummary | None = None
    prediction: TensorSummary | None = None
    classes: int | None = None
    ignore_index: int | None = None
    broadcast_shape: list[int] | None = None  # set when input and target broadcast to more elements
    distance: float | None = None  # RMS of (target - prediction), element-wise losses
    descent_alignment: float | None = None
    label_min: float | None = None  # class labels other than ignore_index (class losses)
    label_max: float | None = None
    reduction: str = "mean"  # the loss function's reduction ('sum' scales the gradient by the batch)
    value: float | None = None  # what it returned (the mean, for an unreduced loss)
    input_module: str = ""  # the innermost module whose output the input is ("" for a plain op)
    input_module_type: str = ""
    input_where: str = ""  # file:line of the op that made the input, when outside the cell
    input_log_sum_error: float | None = None  # max |logsumexp over classes|: 0 for log-probabilities
    input_cuts: list[int] = field(default_factory=list)  # ForwardRecord.cuts the input descends from
    labels: LabelStats | None = None  # class losses: how the labels of this batch look
    # regression losses: how many different values the target holds when every one of them is
    # an integer in [0, label_stats.MAX_LEVEL] (class labels look so), else None
    target_levels: int | None = None
    warnings: list[str] = field(default_factory=list)  # what torch warned while computing it


@dataclass
class LabelStats:
    """The class labels of one loss call, and how the loss changes when they are moved one sample
    along (paired with another sample's input): the same loss means the model has learnt nothing
    that links an input to its own label."""

    loss: float | None  # the loss with the labels as given (mean over labels not ignored)
    rolled_loss: float | None  # the same with each label moved to the next sample
    entropy: float | None  # of the label frequencies in the batch, in nats: a model that learnt
    # only the frequencies gets this loss
    distinct: int | None  # different labels in the batch
    count: int | None  # labels not ignored
    pad_value: int | None = None  # (N, T) targets: the most frequent label
    pad_share: float | None = None  # its share of the targets
    pad_suffix_rows: float | None = None  # share of rows in which it fills the end, after content


@dataclass
class GraphCut:
    """An operation in a detail window that made a value without autograd history from a tensor
    that had one: .detach(), .data, .item(), .numpy(), argmax, an operation under torch.no_grad(),
    or one whose derivative is zero everywhere (round, floor, sign)."""

    kind: str  # ".detach()", ".data", ".item()", "torch.no_grad()", "round()", ...
    op: str  # the torch function
    step: int
    line: int | None  # the cell line it ran from
    layer: str  # the module running when it was made ("" in the cell itself)
    source: str  # what it was applied to: a layer's output or a parameter's name, else the op
    zero_derivative: bool = False  # a differentiable op whose gradient is 0 (round): not a cut
    reaches_backward: bool = False  # backward() was called on a tensor computed from its result
    where: str = ""  # file:line when it ran outside the cell (a class defined elsewhere)


@dataclass
class BackwardCall:
    """A backward() in a detail window, and what the tensor it was called on was made by."""

    step: int
    line: int | None
    shape: list[int]
    requires_grad: bool
    has_graph: bool  # it has a grad_fn: it was computed from tensors that require grad
    made_by: str = ""  # the torch function that made it ("" when the probe did not see it)
    made_line: int | None = None
    cuts: list[int] = field(default_factory=list)  # ForwardRecord.cuts it descends from
    cuts_before: list[int] = field(default_factory=list)  # cuts made since the previous backward()


@dataclass
class InplaceOp:
    """An in-place change of a tensor that requires grad (x += ..., x[i] = ..., relu_())."""

    op: str
    step: int
    line: int | None
    target_made_by: str  # the op that made the changed tensor
    target_line: int | None  # and from which cell line
    layer: str = ""


@dataclass
class Reshape:
    """A view/reshape whose new shape is the old sizes in another order: it keeps the memory
    order, so it scrambles values across axes where a permute/transpose was meant."""

    op: str
    step: int
    line: int | None
    before: list[int]
    after: list[int]
    layer: str = ""
    where: str = ""


@dataclass
class Normaliser:
    """A softmax, log_softmax or sigmoid call in a detail window."""

    op: str
    step: int
    line: int | None
    dim: int | None  # softmax: the axis it normalises over (non-negative); None for sigmoid
    shape: list[int]
    layer: str = ""  # the module it ran in ("" in the cell)
    layer_type: str = ""
    is_model_output: bool = False  # it (or a view of it) is what the model returned
    where: str = ""


@dataclass
class RecurrentCall:
    """The first call of an RNN/LSTM/GRU module in a window: its layout and what it received."""

    layer: str
    type: str
    step: int
    batch_first: bool
    input_shape: list[int]
    line: int | None = None


@dataclass
class NonFiniteOp:
    """The first operation in a detail window whose output held NaN or Inf."""

    op: str
    layer: str  # the module whose forward made the call ("" for a call in the cell itself)
    step: int
    line: int | None


@dataclass
class SingularOp:
    """An operation with a point where it or its gradient is infinite (log and sqrt at 0, division
    by 0, the norm of a zero vector), seen in a detail window, and how near its input came to it.

    `closest` is the smallest input (log, sqrt), the smallest |denominator| (division) or the
    smallest output (a norm); `zeros` counts inputs (outputs, for a norm) exactly at the point,
    `below` inputs under it (a log or sqrt of a negative number).
    """

    op: str  # as called: log, div, __rdiv__, sqrt, pow, norm, ...
    kind: str  # log, div, sqrt, norm
    step: int
    line: int | None
    layer: str = ""  # the module whose forward made the call ("" for the cell itself)
    input_from: str = ""  # the operation that made the input that matters (a division's denominator)
    input_from_line: int | None = None
    closest: float | None = None
    zeros: int = 0
    below: int = 0


@dataclass
class LayerFeed:
    """A Linear layer whose input was another module's output, unchanged (at most reshaped)."""

    layer: str
    fed_by: str
    fed_by_type: str
    step: int
    line: int | None = None


@dataclass
class WeightSymmetry:
    """How far the rows (units) of a weight, and of its gradient, are from being all the same.

    `*_row_spread` is the largest |row_i - row_0| entry, `*_scale` the largest |entry|: a spread of 0
    (or tiny against the scale) means every unit computes, and learns, the same thing.
    """

    param: str
    layer: str
    step: int
    rows: int
    weight_row_spread: float
    weight_scale: float
    grad_row_spread: float
    grad_scale: float


@dataclass
class ForwardRecord:
    """What the forward pass showed in the detail windows (the first step, the last step).

    The other steps are recorded by the step and module hooks alone, so that they stay cheap; with
    `every_step` the activation modules and every module's output finiteness are recorded at each.
    """

    windows: list[int] = field(default_factory=list)  # steps whose iteration was watched in detail
    every_step: bool = False
    order: list[str] = field(default_factory=list)  # layers in the order they first ran
    modules: list[ModuleCall] = field(default_factory=list)
    activations: list[ActivationRecord] = field(default_factory=list)
    losses: list[LossCall] = field(default_factory=list)
    inputs: list[ModelInput] = field(default_factory=list)  # the model's input, per window
    nonfinite_ops: list[NonFiniteOp] = field(default_factory=list)
    symmetry: list[WeightSymmetry] = field(default_factory=list)
    cuts: list[GraphCut] = field(default_factory=list)
    backwards: list[BackwardCall] = field(default_factory=list)
    inplace: list[InplaceOp] = field(default_factory=list)
    reshapes: list[Reshape] = field(default_factory=list)
    normalisers: list[Normaliser] = field(default_factory=list)
    recurrent: list[RecurrentCall] = field(default_factory=list)
    error: str | None = None  # an error inside the probe (the rest of the run is still recorded)
    singular_ops: list[SingularOp] = field(default_factory=list)
    feeds: list[LayerFeed] = field(default_factory=list)


# -- one process of a torchrun job (capture/ranks.py, nbgrad/distributed) ---------------------------
@dataclass
class RankStep:
    """Checksums of one optimizer step on one rank: the parameters right after `step()` (sum and
    sum of squares, measured then), the gradients the step used (sum of squares: the step's own
    gradient norms, squared). Lists follow the optimizer's param groups in order
    (`OptimizerRecord.param_groups`); a gradient is None when `.grad` was None. Equal on every
    rank when the gradients are all-reduced (DDP): the reduced gradient is the same bytes
    everywhere, and so are the weights it updates."""

    index: int  # the step's index in Run.steps of its rank; -1: before the first step
    optimizer: int
    param_sum: list[float]
    param_square_sum: list[float]
    grad_square_sum: list[float | None]
    grad_sync: bool | None = None  # DDP's require_backward_grad_sync at the step (False in no_sync())


@dataclass
class DDPModule:
    """A DistributedDataParallel wrapper that ran, with the settings that decide what it syncs."""

    name: str
    params: list[str]  # the wrapped module's parameters, as the run names them
    find_unused_parameters: bool
    static_graph: bool = False


@dataclass
class LoaderInfo:
    """A DataLoader of the script and how it picks the examples of this rank."""

    name: str
    sampler: str  # type name of its sampler (DistributedSampler, RandomSampler, ...)
    dataset_size: int | None
    batches: int | None  # len(loader): batches per epoch on this rank
    batch_size: int | None
    num_replicas: int | None = None  # a DistributedSampler's split
    sampler_rank: int | None = None
    line: int | None = None  # the script line that made it, when found


@dataclass
class StuckNote:
    """Where a rank was when it could not be stopped: inside a call that does not return to
    Python (a collective waiting for a rank that is gone, most often)."""

    line: int | None
    frames: list[str]  # "train.py:24 in main: loss.backward()", outermost first
    steps: int  # optimizer steps it had taken
    waited_s: float
    reason: str  # what it was asked to stop for


@dataclass
class RankRecord:
    """One rank's side of a torchrun job: what the cross-rank rules compare."""

    rank: int
    world_size: int
    local_rank: int = 0
    host: str = ""
    pid: int = 0
    backend: str = ""  # the process group's backend ("gloo", "nccl"); "" when none was set up
    device: str = ""  # where its parameters live
    reported: bool = True  # False: no record came from this rank (see `note`)
    stopped_by: StopReason | None = None
    error: ErrorInfo | None = None
    ended_at: float = 0.0  # wall-clock time its run ended, to order the ranks' endings
    stop_line: int | None = None  # the script line it was at when its run ended
    steps_taken: int = 0
    step_lines: list[int | None] = field(default_factory=list)  # line of each optimizer step call
    losses: list[float | None] = field(default_factory=list)  # per step, as in Run.steps
    batch_fingerprints: list[list[float] | None] = field(default_factory=list)  # per step
    initial: RankStep | None = None  # parameters before the first step (grads: none yet)
    checksums: list[RankStep] = field(default_factory=list)
    ddp: list[DDPModule] = field(default_factory=list)
    loaders: list[LoaderInfo] = field(default_factory=list)
    batchnorm: list[ModuleCall] = field(default_factory=list)  # BatchNorm calls while training
    # how the model is split across ranks, when it is: "FullyShardedDataParallel" (each rank holds
    # a shard of the weights), "DTensor" (tensor parallel: ranks hold different parts and see the
    # same batch); the ranks' weights then differ by design
    sharded: list[str] = field(default_factory=list)
    stuck: StuckNote | None = None
    diagnoses: list[str] = field(default_factory=list)  # codes this rank found on its own
    note: str = ""  # what happened to a rank that sent no record


# -- a changed copy of the cell, run from the state before the cell (nbgrad/verify.py) -----------
@dataclass
class Finding:
    """A problem (error or warning) a trial run was diagnosed with, as a verification names it."""

    code: str
    slug: str
    severity: str
    title: str


@dataclass
class Trial:
    """One run of a changed copy of the checked cell, from the state before the cell, for the same
    number of steps: what was changed, and what the run showed (its loss per step, the gradient
    flow for the heat map, the problems found in it, the error it raised)."""

    label: str  # what was tried: "NBG301", "lr=0.01", "all fixes", "your cell again"
    source: str  # the code that ran (without the %%gradcheck line)
    changed: list[int]  # the lines of the user's cell that the change touches
    change: str  # the change in words: "line 10 changed", "lr=0.01 on line 5"
    steps_requested: int
    stopped_by: StopReason
    elapsed_s: float
    losses: list[float | None] = field(default_factory=list)  # per step, the first optimizer's
    error: ErrorInfo | None = None  # the exception the changed cell raised
    findings: list[Finding] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)  # rows of `grad_norms`
    grad_norms: list[list[float | None]] = field(default_factory=list)  # [layer][step]; None: no grad
    restore_failed: list[str] = field(default_factory=list)  # what its check could not put back
    lr: float | None = None  # the learning rate a sweep tried
    analysis_error: str | None = None  # nbgrad failed to analyse the trial run

    @property
    def ran(self) -> bool:
        """Ran its steps without an error (and without being cut short by Ctrl-C)."""
        return (self.error is None and self.analysis_error is None
                and self.stopped_by in ("steps", "finished"))

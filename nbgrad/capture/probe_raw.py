"""The forward probe's raw records: tensors still on the device, modules known by id."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import torch
from torch import nn

ACTIVATIONS = {"sigmoid": "sigmoid", "sigmoid_": "sigmoid", "tanh": "tanh", "tanh_": "tanh",
               "relu": "relu", "relu_": "relu"}
ACTIVATION_MODULES = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu"}
CLASS_LOSSES = {"cross_entropy", "nll_loss"}
ELEMENTWISE_LOSSES = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
                      "binary_cross_entropy", "binary_cross_entropy_with_logits"}
# losses that compare real-valued predictions with real-valued targets
REGRESSION_LOSSES = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"}
# losses over a distribution per sample, which expect log-probabilities along the last axis
DISTRIBUTION_LOSSES = {"kl_div", "ctc_loss"}
SUBTRACTIONS = {"sub", "__sub__", "__rsub__", "rsub", "subtract"}
# operations that only reshape or copy: their output is "the same values" as their input
VIEWS = {"view", "reshape", "squeeze", "unsqueeze", "flatten", "contiguous", "transpose", "permute",
         "t", "__getitem__", "float", "double", "half", "to", "clone", "view_as", "reshape_as",
         "squeeze_", "unsqueeze_", "select", "narrow"}
# calls whose output is not computed from their inputs: uninitialised memory, attribute reads
NOT_COMPUTED = {"__get__", "__set__", "empty", "empty_like", "new_empty", "empty_strided"}
MAX_OPS_PER_WINDOW = 20_000  # a loop that never steps keeps its window open: bound the memory


@dataclass
class Tag:
    """What the probe knows about a tensor made during a window."""

    ref: weakref.ref
    op: str = ""  # the last operation that was not a view
    line: int | None = None
    module: int | None = None  # id of the module whose output this is
    prediction: bool = False  # the model's output (the outermost module's), or a view of it
    activation: int | None = None  # index into Probe.activations when an activation made it
    cuts: tuple[int, ...] = ()  # indices into FlowWatcher.cuts of the graph cuts it descends from
    first_module: int | None = None  # id of the innermost module that returned it
    normaliser: int | None = None  # index into FlowWatcher.normalisers when a softmax/sigmoid made it


@dataclass
class RawActivation:
    module: int | None
    kind: str
    source: str
    after: int | str  # id of the module that produced the input, or the producing op's name
    step: int
    line: int | None
    numel: int
    units: int
    samples: int
    stats: torch.Tensor
    feeds_loss: bool = False


@dataclass
class RawLoss:
    function: str
    step: int
    line: int | None
    module: int | None
    input_shape: list[int]
    target_shape: list[int]
    target_dtype: str
    input_from: str
    input_from_line: int | None
    prediction_tagged: bool
    value_range: torch.Tensor
    target: torch.Tensor
    prediction: torch.Tensor
    classes: int | None = None
    ignore_index: int | None = None
    broadcast_shape: list[int] | None = None
    distance: torch.Tensor | None = None
    alignment: torch.Tensor | None = None
    labels: torch.Tensor | None = None  # min and max of the class labels that are not ignored
    reduction: str = "mean"
    input_module: int | None = None
    input_cuts: tuple[int, ...] = ()
    input_normaliser: int | None = None
    log_sum: torch.Tensor | None = None  # max |logsumexp over the class dim| of the input
    label_stats: torch.Tensor | None = None  # label_stats.FIELDS
    levels: torch.Tensor | None = None  # label_stats.integer_levels of a regression target
    warnings: list[str] = field(default_factory=list)
    value: torch.Tensor | None = None  # what the loss function returned (its mean)


@dataclass
class RawModuleCall:
    module: int
    step: int
    training: bool
    batch_size: int | None
    nonfinite: torch.Tensor | None = None
    root: int | None = None
    requires_grad: bool | None = None


@dataclass
class Window:
    step: int
    tags: dict[int, Tag] = field(default_factory=dict)
    stack: list[nn.Module] = field(default_factory=list)
    calls: dict[tuple[int, bool], RawModuleCall] = field(default_factory=dict)  # (id, training)
    ops: int = 0

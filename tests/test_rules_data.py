"""The rules about data, the loss's axes, sequence layout and graph cuts, on records made by hand:
each fires on its evidence, with the line of the fix, and is silent when one piece is missing.
(The zoo runs each of them on a real loop; tests/test_probe_flow.py checks the records.)"""

from __future__ import annotations

import math

import pytest

from nbgrad.capture.probe_flow import reorders
from nbgrad.diagnose import diagnose, facts
from nbgrad.diagnose.rules import batches, graph, loss_axes, sequences
from nbgrad.records import (
    BackwardCall,
    ForwardRecord,
    GraphCut,
    LabelStats,
    LossCall,
    ModelInput,
    Normaliser,
    RecurrentCall,
    TensorSummary,
)
from tests.test_rules_units import make_run

# -- reshapes that reorder axes ---------------------------------------------------------------------


@pytest.mark.parametrize("before, after", [
    ([40, 12, 12, 3], [40, 3, 12, 12]),  # (N, H, W, C) -> (N, C, H, W)
    ([32, 16, 5, 5], [32, 25, 16]),  # (N, C, H, W) -> (N, H*W, C)
    ([8, 20, 6], [8, 6, 20]),  # (B, T, C) -> (B, C, T)
    ([5, 3], [3, 5]),  # a matrix read as its transpose
])
def test_a_reshape_into_the_same_sizes_in_another_order_reorders(before, after):
    assert reorders(before, after)


@pytest.mark.parametrize("before, after", [
    ([32, 1, 28, 28], [32, 784]),  # flatten
    ([32, 784], [32, 1, 28, 28]),  # unflatten
    ([4, 10, 64], [4, 10, 8, 8]),  # split heads
    ([4, 8, 10, 8], [32, 10, 8]),  # merge batch and heads
    ([10, 4, 7], [40, 7]),  # (T, B, H) -> (T*B, H)
    ([6, 12, 5], [6, 4, 15]),  # regroup in order (12*5 = 4*15)
    ([8, 8, 8], [8, 8, 8]),  # unchanged
])
def test_merging_or_splitting_neighbouring_axes_does_not(before, after):
    assert not reorders(before, after)


# -- labels that do not pair with their inputs ------------------------------------------------------

SHUFFLED_SOURCE = """\
def batches(features, labels):
    np.random.shuffle(features)
    np.random.shuffle(labels)
    for i in range(0, len(features), 64):
        yield features[i:i + 64], labels[i:i + 64]
for x, y in batches(X, Y):
    loss = F.cross_entropy(model(x), y)
"""


def _class_call(step: int, loss: float, rolled: float, entropy: float = 1.5, distinct: int = 5,
                label: float = 0.0, count: int = 64, classes: int = 5) -> LossCall:
    return LossCall(function="cross_entropy", step=step, line=7, layer="", input_shape=[count, classes],
                    target_shape=[count], target_dtype="int64", classes=classes, ignore_index=-100,
                    label_min=label, label_max=label if distinct == 1 else label + distinct - 1,
                    labels=LabelStats(loss=loss, rolled_loss=rolled, entropy=entropy,
                                      distinct=distinct, count=count))


def _with_forward(forward: ForwardRecord, source: str = SHUFFLED_SOURCE, steps: int = 30):
    run = make_run([1.5] * steps, source=source, same_batch=False)
    run.forward = forward
    return run


def _forward(*calls: LossCall, windows: tuple[int, ...] = (0, 29)) -> ForwardRecord:
    return ForwardRecord(windows=list(windows), losses=list(calls))


def test_labels_shuffled_apart_are_named_at_the_shuffles_when_the_loss_stays_at_chance():
    run = _with_forward(_forward(_class_call(0, 1.62, 1.61), _class_call(29, 1.535, 1.537)))
    (d,) = batches.labels_not_paired(run)
    assert (d.code, d.severity, d.line) == ("NBG861", "warning", 2)
    assert "lines 2, 3" in d.evidence[-1].text
    assert d.evidence[0].value == pytest.approx((1.537 - 1.535) / 1.535)


@pytest.mark.parametrize("loss, rolled, source", [
    (1.2, 1.5, SHUFFLED_SOURCE),  # the model links inputs to labels: they pair
    (0.9, 0.91, SHUFFLED_SOURCE),  # well below the label entropy: it learnt something
    (1.535, 1.537, SHUFFLED_SOURCE.replace("np.random.shuffle(labels)", "pass")),  # one shuffle
])
def test_labels_not_paired_needs_a_loss_at_chance_and_two_shuffles(loss, rolled, source):
    run = _with_forward(_forward(_class_call(0, 1.62, 1.61), _class_call(29, loss, rolled)), source)
    assert batches.labels_not_paired(run) == []


# -- one class per batch ----------------------------------------------------------------------------

SORTED_SOURCE = """\
loader = DataLoader(TensorDataset(X, y), batch_size=60)
for xb, yb in loader:
    loss = F.cross_entropy(model(xb), yb)
"""


def test_batches_of_one_class_each_are_named_at_the_loader():
    run = _with_forward(_forward(_class_call(0, 1.1, 1.1, 0.0, 1, label=0, classes=3),
                                 _class_call(24, 0.1, 0.1, 0.0, 1, label=2, classes=3),
                                 windows=(0, 24)), SORTED_SOURCE)
    (d,) = batches.one_class_per_batch(run)
    assert (d.code, d.line) == ("NBG863", 1)
    assert [e.value for e in d.evidence[:2]] == [0.0, 2.0]


@pytest.mark.parametrize("labels, count", [((0, 0), 60), ((0, 2), 4)])
def test_one_class_per_batch_needs_two_different_classes_in_batches_of_eight(labels, count):
    run = _with_forward(_forward(_class_call(0, 1, 1, 0.0, 1, label=labels[0], count=count, classes=3),
                                 _class_call(24, 1, 1, 0.0, 1, label=labels[1], count=count, classes=3),
                                 windows=(0, 24)), SORTED_SOURCE)
    assert batches.one_class_per_batch(run) == []


# -- padding ----------------------------------------------------------------------------------------

def _padded(ignore: int, share: float = 0.7, suffix: float = 1.0) -> LossCall:
    call = _class_call(0, 4.2, 4.2, 1.8, 40, count=480, classes=50)
    call.target_shape, call.ignore_index = [32, 15], ignore
    assert call.labels is not None
    call.labels.pad_value, call.labels.pad_share, call.labels.pad_suffix_rows = 0, share, suffix
    return call


def test_padding_that_fills_the_rows_ends_and_is_not_ignored_is_named_at_the_loss():
    (d,) = loss_axes.padding_in_loss(_with_forward(_forward(_padded(-100))))
    assert (d.code, d.line, d.evidence[0].value) == ("NBG812", 7, 0.7)
    assert "ignore_index=0" in d.fix


@pytest.mark.parametrize("ignore, share, suffix", [(0, 0.7, 1.0), (-100, 0.1, 1.0), (-100, 0.7, 0.2)])
def test_padding_ignored_or_a_label_that_is_not_padding_is_not(ignore, share, suffix):
    assert loss_axes.padding_in_loss(_with_forward(_forward(_padded(ignore, share, suffix)))) == []


# -- softmax over the batch -------------------------------------------------------------------------

SOFTMAX_SOURCE = """\
model = torch.nn.Sequential(
    torch.nn.Linear(4, 150),
    torch.nn.Softmax(dim=0),
)
probs = model(states)
"""


def _softmax_run(dim: int, output: bool = True) -> ForwardRecord:
    return ForwardRecord(
        windows=[0, 29],
        inputs=[ModelInput("model", 0, 5, TensorSummary(shape=[64, 4], dtype="float32"))],
        normalisers=[Normaliser("softmax", 0, 5, dim, [64, 2], layer="1", layer_type="Softmax",
                                is_model_output=output)])


def test_a_softmax_over_the_batch_axis_is_named_where_the_layer_is_built():
    (d,) = loss_axes.softmax_over_batch(_with_forward(_softmax_run(0), SOFTMAX_SOURCE))
    assert (d.code, d.severity, d.line) == ("NBG811", "error", 3)


@pytest.mark.parametrize("dim, output", [(1, True), (0, False)])
def test_a_softmax_over_the_classes_or_inside_the_model_is_not(dim, output):
    assert loss_axes.softmax_over_batch(_with_forward(_softmax_run(dim, output), SOFTMAX_SOURCE)) == []


# -- an RNN reading the batch as time ---------------------------------------------------------------

RNN_SOURCE = """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 64)
"""


def _rnn(shape: list[int], target: list[int], batch_first: bool = False) -> ForwardRecord:
    loss = _class_call(0, 2.3, 2.3, classes=10)
    loss.target_shape = target
    return ForwardRecord(windows=[0], recurrent=[RecurrentCall("lstm", "LSTM", 0, batch_first, shape)],
                         losses=[loss])


def test_an_rnn_without_batch_first_given_the_batch_first_is_named_at_its_constructor():
    (d,) = sequences.batch_first_mismatch(_with_forward(_rnn([100, 28, 28], [100]), RNN_SOURCE))
    assert (d.code, d.severity, d.line) == ("NBG871", "warning", 4)


@pytest.mark.parametrize("shape, target, batch_first", [
    ([100, 28, 28], [100], True),  # built batch_first
    ([30, 16, 8], [16, 5], False),  # (time, batch, features) with per-sequence targets
    ([30, 16, 8], [30, 16], False),  # per-step targets laid out (time, batch)
    ([30, 16, 8], [480], False),  # per-step targets flattened
])
def test_a_sequence_first_layout_is_not(shape, target, batch_first):
    run = _with_forward(_rnn(shape, target, batch_first), RNN_SOURCE)
    assert sequences.batch_first_mismatch(run) == []


# -- the same batch at every step -------------------------------------------------------------------

def test_the_same_batch_at_every_step_is_named_at_next_iter_and_full_batch_training_is_not():
    loop = "for step in range(100):\n    x, y = next(iter(loader))\n    loss = F.cross_entropy(model(x), y)\n"
    run = make_run([1.0] * 10, source=loop, same_batch=True)
    (d,) = batches.same_batch_every_step(run)
    assert (d.code, d.line) == ("NBG862", 2)
    full = make_run([1.0] * 10, source="for step in range(100):\n    loss = F.mse_loss(model(X), Y)\n")
    assert batches.same_batch_every_step(full) == []
    changing = make_run([1.0] * 10, source=loop, same_batch=False)
    assert batches.same_batch_every_step(changing) == []


# -- the loss does not reach the parameters ---------------------------------------------------------

CUT_SOURCE = """\
for x, y in data:
    out = model(x)
    loss = criterion(out, y).item()
    loss = torch.tensor(loss, requires_grad=True)
    loss.backward()
"""


def _no_grad_run(grad: float | None, cuts: list[GraphCut], backwards: list[BackwardCall]):
    run = make_run([1.0] * 4, source=CUT_SOURCE, grad=grad)  # type: ignore[arg-type]
    for step in run.steps:
        step.backward_grad_norm = grad
    run.forward = ForwardRecord(windows=[0, 3], cuts=cuts, backwards=backwards)
    return run


ITEM = GraphCut(".item()", "item", 0, 3, "", "criterion")
REBUILT = BackwardCall(0, 5, [], True, False, made_by="tensor", made_line=4, cuts_before=[0])


def test_a_loss_rebuilt_from_item_is_named_at_the_item_with_the_rebuild_as_evidence():
    (d,) = graph.loss_detached(_no_grad_run(None, [ITEM], [REBUILT]))
    assert (d.code, d.line) == ("NBG101", 3)
    assert any("torch.tensor(...) at line 4" in e.text for e in d.evidence)
    assert "Remove the .item() at line 3" in d.fix


@pytest.mark.parametrize("grad", [math.nan, 0.0])
def test_nan_or_zero_gradients_are_not_a_detached_loss(grad):
    connected = BackwardCall(0, 5, [], True, True, made_by="mean", made_line=3)
    assert graph.loss_detached(_no_grad_run(grad, [], [connected])) == []


def test_gradients_of_exactly_zero_through_round_are_their_own_diagnosis():
    rounded = GraphCut("round()", "round", 0, 2, "", "sigmoid", zero_derivative=True,
                       reaches_backward=True)
    run = _no_grad_run(0.0, [rounded], [BackwardCall(0, 5, [], True, True, "mse_loss", 3, [0])])
    run.forward.losses = [LossCall("mse_loss", 0, 3, "", [8, 1], [8, 1], "float32", input_cuts=[0])]
    assert graph.loss_detached(run) == []
    (d,) = graph.zero_derivative_loss(run)
    assert (d.code, d.line) == ("NBG105", 3)
    assert "line 2" in d.evidence[1].text


def test_without_probe_records_the_text_scan_still_names_a_cut():
    run = _no_grad_run(None, [], [])
    run.forward = ForwardRecord()
    (d,) = graph.loss_detached(run)
    assert any(".item()" in e.text for e in d.evidence)


def test_a_cut_the_loss_went_through_comes_before_one_it_did_not():
    metric = GraphCut("argmax()", "argmax", 0, 2, "", "linear")
    detach = GraphCut(".detach()", "detach", 0, 3, "", "linear", reaches_backward=True)
    run = _no_grad_run(None, [metric, detach], [BackwardCall(0, 5, [], False, False, "mse_loss",
                                                             3, [1], [0, 1])])
    assert facts.loss_cuts(run) == [detach]


# -- facts that find the line of a fix in the cell's text -------------------------------------------

FLOW_SOURCE = """\
def prepare(images):
    return images
batch_x = raw * 1.0
for i in range(0, 100, 10):
    x, y = batch_x[i:i + 10], labels[i:i + 10]
    loss = F.cross_entropy(model(prepare(x)), y)
    out = model(batch_x[i:i + 10])
"""


def test_origin_line_follows_slices_and_stops_in_a_preparing_function():
    run = make_run([1.0], source=FLOW_SOURCE)
    assert facts.call_arguments(run.cell_line(6), "cross_entropy") == ["model(prepare(x))", "y"]
    assert facts.origin_line(run, "prepare(x)", 6) == 2
    assert facts.origin_line(run, "batch_x[i:i + 10]", 7) == 3
    assert facts.origin_line(run, "y", 6) == 5  # labels is not assigned in the cell


def test_constructor_line_picks_the_layer_by_its_attribute_or_its_numbers():
    source = ("self.fc = nn.Linear(10, 20)\nself.classifier = nn.Sequential(nn.Flatten(), "
              "nn.Linear(in_features=h, out_features=2))\n")
    run = make_run([1.0], source=source)
    assert facts.constructor_line(run, "classifier.1", "Linear") == 2
    assert facts.constructor_line(run, "fc", "Linear") == 1
    assert facts.constructor_line(run, "3", "Linear", r"\b10\b") == 1
    assert facts.constructor_line(run, "3", "Linear") is None


def test_independent_shuffles_are_two_shuffled_names_or_two_zipped_shuffling_loaders():
    loaders = ("a = DataLoader(xs, batch_size=5, shuffle=True)\nb = DataLoader(ys, shuffle=True)\n"
               "for x, y in zip(a, b):\n    pass\n")
    assert facts.independent_shuffles(make_run([1.0], source=loaders)) == [1, 2]
    one = "a = DataLoader(TensorDataset(xs, ys), shuffle=True)\nrng.shuffle(order)\n"
    assert facts.independent_shuffles(make_run([1.0], source=one)) == []


def test_in_forward_is_true_only_inside_a_forward_method():
    source = ("class A:\n    def forward(self, x):\n        y = x\n        return y\n"
              "    def f(self):\n        z = 1\n")
    run = make_run([1.0], source=source)
    assert [facts.in_forward(run, n) for n in range(1, 7)] == [False, False, True, True, False, False]


def test_the_rules_run_on_every_record_above_together_without_failing():
    run = _with_forward(_forward(_class_call(0, 1.62, 1.61), _class_call(29, 1.535, 1.537)))
    assert "NBG861" in [d.code for d in diagnose(run)]

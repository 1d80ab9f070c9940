"""Fixes as code for what the loss and the batches receive: a loss given the wrong kind of values
or told to sum, padding counted as targets, inputs and labels shuffled apart, one batch every
step, sorted batches, a reshape where a permute was meant, a recurrent layer that reads the batch
as time, a loss taken through round().

Each edit is made where the diagnosis points (the line that builds the loss, the loader, the
layer, or that applies the op), in the user's own names, and only where one change is surely the
one meant; otherwise None, and the rule's words stand.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from nbgrad.diagnose import facts
from nbgrad.diagnose.diagnosis import Diagnosis, Edit
from nbgrad.diagnose.fixes import lines as L
from nbgrad.diagnose.fixes.by_code import (
    Fix,
    Fixer,
    _is_loss_callee,
    _loss_call,
    _replace,
    _squash_fix,
)
from nbgrad.records import LossCall, Run


def _with_keyword(text: str, calls: Callable[[str], bool], key: str, value: str) -> str | None:
    """The line with keyword `key` of the first call `calls` accepts set to `value`: its value
    replaced where it is given, else the keyword added as the last argument."""
    given: list[bool] = []

    def find(node: ast.AST) -> ast.AST | None:
        if isinstance(node, ast.Call) and calls(L.callee(node)):
            keyword = next((k for k in node.keywords if k.arg == key), None)
            given.append(keyword is not None)
            return keyword.value if keyword is not None else node
        return None

    def rewrite(source: str) -> str:
        if given[-1]:
            return value
        inner = source[source.index("(") + 1:-1].strip()
        return source[:-1].rstrip() + (", " if inner else "") + f"{key}={value})"
    return L.splice(text, find, rewrite)


def _last_name(*names: str) -> Callable[[str], bool]:
    return lambda callee: callee.rsplit(".", 1)[-1] in names


# -- what the loss receives -----------------------------------------------------------------------
def bce_on_scores(run: Run, d: Diagnosis) -> Fix | None:
    """BCELoss given raw scores (NBG807): the loss that applies the sigmoid itself, where the loss
    is chosen (`nn.BCELoss()` -> `nn.BCEWithLogitsLoss()`, or the functional call)."""
    text = run.cell_line(d.line)
    if re.search(r"\bBCELoss\s*\(", text):
        return _replace(d.line, L.rename_call(text, "BCELoss", "BCEWithLogitsLoss"))
    if re.search(r"\bbinary_cross_entropy\s*\(", text):
        return _replace(d.line, L.rename_call(text, "binary_cross_entropy",
                                              "binary_cross_entropy_with_logits"))
    return None


def _log_softmax_argument(text: str, accepts: Callable[[str], bool]) -> str | None:
    """The loss call's input (its first argument) with its softmax turned into log_softmax, the
    rest of the line (the target's own softmax) unchanged."""
    def renamed(arg: str) -> str:
        new = re.sub(r"(?<![\w.])softmax(?=\s*\()", "log_softmax", arg)
        return re.sub(r"\.softmax(?=\s*\()", ".log_softmax", new)
    return L.rewrite_argument(text, accepts, 0, renamed)


def log_probabilities(run: Run, d: Diagnosis) -> Fix | None:
    """KLDivLoss (NBG808) or CTCLoss (NBG809) given probabilities or raw scores: the softmax
    that made the input becomes log_softmax (same dim), or raw scores get .log_softmax over the
    classes at the call (the last axis; CTC's (T, N, C) scores: dim 2)."""
    function = "kl_div" if d.code == "NBG808" else "ctc_loss"
    call = _loss_call(run, d, function=function)
    if call is None or call.line is None:
        return None
    text = run.cell_line(call.line)
    if call.input_from == "softmax":
        if call.input_from_line == call.line:
            return _replace(call.line, _log_softmax_argument(text, _is_loss_callee(call)))
        return _squash_fix(run, d, "softmax", call.input_from_line, remove=False)
    if call.input_from in ("sigmoid", "log_softmax"):
        return None  # independent probabilities, or already log-probabilities: no one edit
    dim = "-1" if function == "kl_div" else "2"
    return _input_edit(run, call, "{}.log_softmax(" + dim + ")")


def _input_edit(run: Run, call: LossCall, template: str) -> Fix | None:
    """The loss call's input (its first argument) rewritten in place, at the call."""
    new = L.rewrite_argument(run.cell_line(call.line), _is_loss_callee(call), 0,
                             lambda arg: L.wrapped(arg, template))
    return _replace(call.line, new)


def softmax_over_classes(run: Run, d: Diagnosis) -> Fix | None:
    """A softmax over dim 0, the batch (NBG811): over dim 1, the classes, on the same call."""
    def find(node: ast.AST) -> ast.AST | None:
        if not isinstance(node, ast.Call):
            return None
        name = L.callee(node).rsplit(".", 1)[-1]
        if name not in ("softmax", "log_softmax", "Softmax", "LogSoftmax"):
            return None
        given = next((k.value for k in node.keywords if k.arg == "dim"), None)
        if given is None:  # positional: x.softmax(0), nn.Softmax(0), F.softmax(x, 0)
            method = isinstance(node.func, ast.Attribute) and L.callee(node).split(".")[0] not in (
                "torch", "F", "nn", "functional")
            index = 0 if method or name[0].isupper() else 1
            given = node.args[index] if len(node.args) > index else None
        zero = isinstance(given, ast.Constant) and given.value == 0 and \
            not isinstance(given.value, bool)
        return given if zero else None
    if d.line is None:
        return None
    return _replace(d.line, L.splice(run.cell_line(d.line), find, lambda _: "1"))


def ignore_padding(run: Run, d: Diagnosis) -> Fix | None:
    """Padding counted as targets (NBG812): ignore_index=<the padding label> where the loss is
    made: the module's constructor, or the functional call."""
    call = _loss_call(run, d)
    if call is None or call.labels is None or call.labels.pad_value is None or \
            call.function not in ("cross_entropy", "nll_loss"):
        return None
    pad = f"{call.labels.pad_value:g}"
    module = {"cross_entropy": "CrossEntropyLoss", "nll_loss": "NLLLoss"}[call.function]
    built = facts.constructor_line(run, call.layer, module) if call.layer else None
    if built is not None:
        return _replace(built, _with_keyword(run.cell_line(built), _last_name(module),
                                             "ignore_index", pad))
    if call.line is None:
        return None
    return _replace(call.line, _with_keyword(run.cell_line(call.line), _is_loss_callee(call),
                                             "ignore_index", pad))


def mean_reduction(run: Run, d: Diagnosis) -> Fix | None:
    """reduction='sum' (NBG813) or 'none' (NBG910) where the loss is made: reduction='mean'."""
    text = run.cell_line(d.line)
    if d.line is None or not re.search(r"reduction\s*=\s*['\"](sum|none)['\"]", text):
        return None
    def find(node: ast.AST) -> ast.AST | None:
        if isinstance(node, ast.keyword) and node.arg == "reduction" and \
                isinstance(node.value, ast.Constant) and node.value.value in ("sum", "none"):
            return node.value
        return None
    quote = "'" if re.search(r"reduction\s*=\s*'", text) else '"'
    return _replace(d.line, L.splice(text, find, lambda _: f"{quote}mean{quote}"))


def not_reduced(run: Run, d: Diagnosis) -> Fix | None:
    """backward() on a tensor of per-element losses (NBG910): the mean where reduction='none'
    asked for them, else the rule's `.mean().backward()` at the backward() line."""
    at_reduction = mean_reduction(run, d)
    if at_reduction is not None:
        return at_reduction
    return _replace(d.line, d.fix_code) if d.fix_code else None


def without_zero_derivative_op(run: Run, d: Diagnosis) -> Fix | None:
    """The loss taken through round()/floor()/sign() (NBG105): that call taken out where it is
    applied, so that the loss gets the values before it."""
    cuts = [c for c in facts.zero_derivative_cuts(run) if c.line is not None and not c.where]
    if not cuts:
        return None
    cut = cuts[0]
    name = cut.kind.removesuffix("()").lstrip(".") or cut.op
    return _replace(cut.line, L.unwrap(run.cell_line(cut.line), (name,)))


# -- how batches are formed -----------------------------------------------------------------------
def _unused_name(run: Run, *names: str) -> str:
    return next((n for n in names if not re.search(rf"\b{n}\b", run.source)), names[-1] + "_")


def shuffle_together(run: Run, d: Diagnosis) -> Fix | None:
    """Inputs and labels shuffled each on their own (NBG861): one permutation of both, made by
    the same generator (`rng.shuffle(X); rng.shuffle(y)` -> `order = rng.permutation(len(X));
    X, y = X[order], y[order]`). NumPy's generators have permutation(); Python's random does not."""
    found = []
    for n in facts.independent_shuffles(run):
        call = re.fullmatch(r"([\w.]+)\.shuffle\((\w+)\)", run.cell_line(n).split("#", 1)[0].strip())
        if call is None:
            return None
        found.append((n, call.group(1), call.group(2)))
    if len(found) != 2 or found[0][1] != found[1][1] or found[0][1] == "random" or \
            found[0][2] == found[1][2]:
        return None
    (first, source, a), (second, _, b) = found
    order = _unused_name(run, "order", "perm")
    return Fix([Edit(first, "replace", f"{order} = {source}.permutation(len({a}))\n"
                                       f"{a}, {b} = {a}[{order}], {b}[{order}]"),
                Edit(second, "remove")])


def iterate_loader(run: Run, d: Diagnosis) -> Fix | None:
    """next(iter(loader)) at every step of `for _ in range(len(loader))` (NBG862): the loop
    iterates the loader itself, `for x, y in loader:`, and the fetching line goes."""
    node = facts.statement_at(run, d.line)
    if d.line is None or not isinstance(node, ast.Assign) or len(node.targets) != 1:
        return None
    value = node.value
    if not (isinstance(value, ast.Call) and L.callee(value) == "next" and len(value.args) == 1
            and isinstance(value.args[0], ast.Call) and L.callee(value.args[0]) == "iter"
            and len(value.args[0].args) == 1):
        return None
    loader = ast.unparse(value.args[0].args[0])
    loops = facts.loop_chain(run, d.line)
    header = facts.statement_at(run, loops[-1]) if loops else None
    if not isinstance(header, ast.For) or not isinstance(header.target, ast.Name):
        return None
    if ast.unparse(header.iter) != f"range(len({loader}))" or header.body[0] is not node:
        return None
    counter = header.target.id
    body = ast.Module(body=header.body[1:], type_ignores=[])
    if any(isinstance(n, ast.Name) and n.id == counter for n in ast.walk(body)):
        return None  # the loop's counter is used: iterating the loader would lose it
    new = f"for {ast.unparse(node.targets[0]).strip('()')} in {loader}:"
    return Fix([Edit(loops[-1], "replace", new), Edit(d.line, "remove")])


def shuffle_loader(run: Run, d: Diagnosis) -> Fix | None:
    """Batches sorted by class (NBG863) from a DataLoader that does not shuffle: shuffle=True on
    the line that builds it."""
    text = run.cell_line(d.line)
    if d.line is None or not re.search(r"\bDataLoader\s*\(", text):
        return None
    return _replace(d.line, _with_keyword(text, _last_name("DataLoader"), "shuffle", "True"))


def permute_instead(run: Run, d: Diagnosis) -> Fix | None:
    """A reshape that puts the same sizes in another order (NBG864): the permute that moves the
    axes there, axes of equal size keeping their order (an image's height before its width)."""
    r = next((r for r in run.forward.reshapes if r.line == d.line and not r.where), None)
    if r is None or d.line is None or len(r.before) != len(r.after) or \
            sorted(r.before) != sorted(r.after):
        return None
    order: list[int] = []
    for size in r.after:
        order.append(next(i for i, s in enumerate(r.before) if s == size and i not in order))

    def find(node: ast.AST) -> ast.AST | None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == r.op and L.callee(node).split(".")[0] != "torch":
            return node
        return None

    def permute(source: str) -> str:
        call = ast.parse(source, mode="eval").body
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
        return f"{ast.get_source_segment(source, call.func.value)}.permute({', '.join(map(str, order))})"
    return _replace(d.line, L.splice(run.cell_line(d.line), find, permute))


def batch_first(run: Run, d: Diagnosis) -> Fix | None:
    """A recurrent layer fed (batch, time, features) but built without batch_first=True
    (NBG871): batch_first=True where it is built."""
    text = run.cell_line(d.line)
    if d.line is None or not re.search(r"\b(RNN|GRU|LSTM)\s*\(", text):
        return None
    return _replace(d.line, _with_keyword(text, _last_name("RNN", "GRU", "LSTM"),
                                          "batch_first", "True"))


FIXERS: dict[str, Fixer] = {
    "NBG105": without_zero_derivative_op,
    "NBG807": bce_on_scores, "NBG808": log_probabilities, "NBG809": log_probabilities,
    "NBG811": softmax_over_classes, "NBG812": ignore_padding, "NBG813": mean_reduction,
    "NBG861": shuffle_together, "NBG862": iterate_loader, "NBG863": shuffle_loader,
    "NBG864": permute_instead, "NBG871": batch_first, "NBG910": not_reduced,
}


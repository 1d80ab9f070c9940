"""Facts about the cell's text: which line does what, and how a line reads once fixed.

The records decide whether something is wrong; the text only says where, and what to write there.
"""

from __future__ import annotations

import re

from nbgrad.diagnose.facts.source import function_of
from nbgrad.records import ActivationRecord, Run

# constructs that make a tensor without autograd history
GRAPH_BREAKS = {
    r"torch\.tensor\(": "torch.tensor(...)",
    r"\.item\(\)": ".item()",
    r"\.detach\(\)": ".detach()",
    r"\.data\b": ".data",
    r"\.numpy\(\)": ".numpy()",
    r"from_numpy\(": "torch.from_numpy(...)",
    r"\bno_grad\(\)": "torch.no_grad()",
    r"\.tolist\(\)": ".tolist()",
}


# torch.optim's classes: a zero_grad() on one of these was an optimizer's, not a module's
OPTIMIZER_TYPES = {"SGD", "Adam", "AdamW", "Adamax", "Adagrad", "Adadelta", "Adafactor", "ASGD",
                   "LBFGS", "NAdam", "RAdam", "RMSprop", "Rprop", "SparseAdam", "Muon"}


def cell_lines(run: Run) -> list[tuple[int, str]]:
    """(line number as the user sees it, text) of every line of the cell."""
    return [(run.first_line + i, text) for i, text in enumerate(run.source.splitlines())]


def first_line(run: Run, kind: str) -> int | None:
    """The cell line of the first event of this kind."""
    return next((e.line for e in run.events if e.kind == kind and e.line is not None), None)


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


def assigned_after(run: Run, name: str, line: int | None) -> int | None:
    """The first line after `line` that assigns `name` again (`model = Net()`)."""
    if line is None:
        return None
    pattern = re.compile(rf"^\s*{re.escape(name)}\s*=[^=]")
    return next((n for n, text in cell_lines(run) if n > line and pattern.match(text)), None)


def line_matching(run: Run, pattern: str, default: int | None = None) -> int | None:
    """The first cell line matching the regular expression, else `default`."""
    regex = re.compile(pattern)
    return next((n for n, text in cell_lines(run) if regex.search(text)), default)


def only_line_matching(run: Run, pattern: str) -> int | None:
    """The cell line matching `pattern` when exactly one (non-comment) line does."""
    hits = [n for n, text in cell_lines(run)
            if re.search(pattern, text) and not text.lstrip().startswith("#")]
    return hits[0] if len(hits) == 1 else None


def optimizer_line(run: Run, optimizer: int) -> int | None:
    """The cell line that builds the optimizer (`opt = torch.optim.SGD(...)`)."""
    name = re.escape(run.optimizers[optimizer].name)
    return line_matching(run, rf"^\s*{name}\s*=[^=]")


def optimizer_name(run: Run) -> str | None:
    """The user's name for an optimizer that never stepped: where the cell builds one, else what
    the cell calls zero_grad() on (an optimizer built in an earlier cell)."""
    made = line_matching(run, r"^\s*(\w+)\s*=\s*(torch\.)?optim\.\w+\(")
    if made is not None:
        found = re.match(r"^\s*(\w+)", run.cell_line(made))
        return found.group(1) if found else None
    for event in run.events:
        if event.kind == "zero_grad" and (event.target in OPTIMIZER_TYPES
                                          or event.target.endswith("Optimizer")):
            name = receiver(run, event.line, "zero_grad")
            if name is not None and "." not in name:
                return name
    return None


def module_line(run: Run, act: ActivationRecord) -> int | None:
    """The line of an activation: its call for a function or a module applied in forward(), its
    constructor for a module run by a container (nn.Sequential)."""
    if act.source == "function":
        return act.line
    function = function_of(run, act.line)
    if function is not None and function.name == "forward":
        return act.line
    name = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU"}[act.kind]
    return only_line_matching(run, rf"\b{name}\b")


def graph_breaks(run: Run) -> list[tuple[int, str, list[str]]]:
    """Cell lines that contain a construct which cuts autograd history: (line, text, constructs)."""
    out = []
    for number, text in cell_lines(run):
        code = text.split("#", 1)[0]
        found = [label for pattern, label in GRAPH_BREAKS.items() if re.search(pattern, code)]
        if found:
            out.append((number, text.strip(), found))
    return out


def _matching_paren(text: str, start: int) -> int:
    """Index of the ')' that closes the '(' at `start`, -1 when unbalanced."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return -1


def _first_argument(inner: str) -> str:
    depth = 0
    for i, ch in enumerate(inner):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            return inner[:i]
    return inner


def reconnected(text: str) -> str | None:
    """The line with its graph-cutting wrappers removed, when that leaves valid Python.

    `loss = torch.tensor(criterion(out, y).item(), requires_grad=True)` -> `loss = criterion(out, y)`.
    """
    out = text.strip()
    for wrapper in ("torch.tensor(", "torch.as_tensor(", "torch.from_numpy(", "np.array("):
        while (at := out.find(wrapper)) >= 0:
            close = _matching_paren(out, at + len(wrapper) - 1)
            if close < 0:
                return None
            out = out[:at] + _first_argument(out[at + len(wrapper):close]).strip() + out[close + 1:]
    out = re.sub(r"\.(item|detach|numpy|cpu|requires_grad_)\(\)|\.data", "", out)
    if out == text.strip() or "(" not in out.partition("=")[2]:
        return None  # unchanged, or nothing left that computes the loss from the model
    try:
        compile(out, "<fix>", "exec")
    except SyntaxError:
        return None
    return out


def with_keyword(text: str, key: str, value: str) -> str | None:
    """The line with `key=...` set to `value`, None when the line has no such keyword."""
    pattern = re.compile(rf"\b{re.escape(key)}\s*=\s*[^,)]+")
    if not pattern.search(text):
        return None
    return pattern.sub(f"{key}={value}", text.strip(), count=1)

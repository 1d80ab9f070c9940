"""How one line of the cell reads once fixed: pure text work on a single line, through `ast`.

Every function takes the text of one line (as the user wrote it, indentation and comment included)
and returns the line rewritten, or None when the change does not apply or would not be valid
Python. Calls are found by parsing the line, so `model(images[i:i + 16])` is rewritten at the
model's call and nowhere else, in the user's own names.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Callable

# constructs that make a tensor without autograd history, and how each is undone
_CUT_METHODS = ("item", "detach", "numpy", "tolist", "cpu", "requires_grad_")
_CUT_WRAPPERS = ("torch.tensor", "torch.as_tensor", "torch.from_numpy", "np.array", "np.asarray",
                 "float")


def _split(text: str) -> tuple[str, str, str]:
    """(indentation, code, trailing comment) of a line; the comment keeps its leading blanks."""
    indent = text[:len(text) - len(text.lstrip())]
    body = text.strip()
    code, comment = body, ""
    try:  # a '#' inside a string is not a comment: find the comment through the tokens
        for token in tokenize.generate_tokens(io.StringIO(body).readline):
            if token.type == tokenize.COMMENT:
                code = body[:token.start[1]].rstrip()
                comment = body[len(code):]
                break
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return indent, code, comment


def _parse(code: str) -> tuple[ast.Module, str] | None:
    """The line parsed; a compound statement's header gets a body so that it parses alone."""
    source = code + ("\n    pass" if code.endswith(":") else "")
    try:
        return ast.parse(source), source
    except SyntaxError:
        return None


def _valid(code: str) -> bool:
    return _parse(code) is not None


def _join(indent: str, code: str, comment: str) -> str:
    return f"{indent}{code}{comment}"


def _offsets(source: str) -> list[int]:
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _span(node: ast.AST, starts: list[int]) -> tuple[int, int]:
    begin = starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
    end = starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
    return begin, end


def splice(text: str, find: Callable[[ast.AST], ast.AST | None],
           rewrite: Callable[[str], str]) -> str | None:
    """The line with the source of the first node `find` picks (walking the line's tree) replaced
    by `rewrite(its source)`; None when no node is picked or the result is not valid Python."""
    indent, code, comment = _split(text)
    parsed = _parse(code)
    if parsed is None:
        return None
    tree, source = parsed
    starts = _offsets(source)
    for node in ast.walk(tree):
        target = find(node)
        if target is None:
            continue
        begin, end = _span(target, starts)
        new = source[:begin] + rewrite(source[begin:end]) + source[end:]
        new = new[:len(new) - len("\n    pass")] if code.endswith(":") else new
        return _join(indent, new, comment) if _valid(new) and new != code else None
    return None


def callee(node: ast.AST) -> str:
    """The dotted name a call calls (`F.mse_loss`, `model`, `x.softmax`); '' when not a name."""
    func = node.func if isinstance(node, ast.Call) else node
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
        return ".".join(reversed(parts))
    if isinstance(func, ast.Call):  # `Net().parameters`: the call's own name, with ()
        inner = callee(func)
        return ".".join([inner + "()", *reversed(parts)]) if inner else ""
    return ""


def rewrite_argument(text: str, calls: Callable[[str], bool], index: int,
                     wrap: Callable[[str], str]) -> str | None:
    """The line with argument `index` of the first call whose callee `calls` accepts rewritten:
    `criterion(out, y)` with index 1 and `y.long()` -> `criterion(out, y.long())`."""
    def find(node: ast.AST) -> ast.AST | None:
        if isinstance(node, ast.Call) and calls(callee(node)) and len(node.args) > index \
                and not isinstance(node.args[index], ast.Starred):
            return node.args[index]
        return None
    return splice(text, find, wrap)


def argument_text(text: str, calls: Callable[[str], bool], index: int) -> str | None:
    """The source of argument `index` of the first call `calls` accepts, as written."""
    found: list[str] = []

    def keep(arg: str) -> str:
        found.append(arg)
        return arg + " "  # any change, so that splice reports a hit
    splice(text, lambda node: node.args[index] if isinstance(node, ast.Call) and calls(callee(node))
           and len(node.args) > index else None, keep)
    return found[0] if found else None


def wrapped(arg: str, template: str) -> str:
    """`template` with `{}` filled by `arg`, bracketed when an operator after it would bind to a
    part of it: `{}.flatten(1)` of `a + b` is `(a + b).flatten(1)`."""
    if template.startswith("{}") and not _atom(arg):
        arg = f"({arg})"
    return template.format(arg)


def _atom(expression: str) -> bool:
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return False
    return isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call, ast.Constant))


def reconnect(text: str) -> str | None:
    """The line without the constructs that cut autograd history: `.item()`, `.detach()`,
    `.numpy()`, `.tolist()`, `.data`, and `torch.tensor(...)`, `float(...)` and NumPy wrappers
    around a computed value. `total += loss.item()` -> `total += loss`."""
    indent, code, comment = _split(text)
    parsed = _parse(code)
    if parsed is None:
        return None
    out = code
    for _ in range(8):  # one construct per pass, outermost first
        step = _reconnect_once(out, cpu=out != code)
        if step is None:
            break
        out = step
    if out == code or not _valid(out):
        return None
    return _join(indent, out, comment)


def _reconnect_once(code: str, cpu: bool) -> str | None:
    """One cut undone; `cpu`: a `.cpu()` goes too (it was on the way to NumPy or a number)."""
    parsed = _parse(code)
    if parsed is None:
        return None
    tree, source = parsed
    starts = _offsets(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in _CUT_METHODS and not node.args:
            begin, end = _span(node, starts)
            inner_begin, inner_end = _span(node.func.value, starts)
            if node.func.attr == "cpu" and not cpu:
                continue  # keeps the graph: dropped only on the way out of a cut
            return _trim(source, begin, end, source[inner_begin:inner_end], code)
        if isinstance(node, ast.Attribute) and node.attr == "data" \
                and isinstance(node.ctx, ast.Load):
            begin, end = _span(node, starts)
            inner_begin, inner_end = _span(node.value, starts)
            return _trim(source, begin, end, source[inner_begin:inner_end], code)
        if isinstance(node, ast.Call) and callee(node) in _CUT_WRAPPERS and node.args:
            begin, end = _span(node, starts)
            first = node.args[0]
            if isinstance(first, (ast.Constant, ast.List, ast.Tuple)):
                continue  # torch.tensor(0.0): a constant, not a computed loss
            inner = source[slice(*_span(first, starts))]
            inner = re.sub(r"\.cpu\(\)$", "", inner)
            return _trim(source, begin, end, inner, code)
    return None


def _trim(source: str, begin: int, end: int, inner: str, code: str) -> str:
    new = source[:begin] + inner + source[end:]
    return new[:len(new) - len("\n    pass")] if code.endswith(":") else new


def unwrap(text: str, functions: tuple[str, ...]) -> str | None:
    """The line without a squashing call: `model(x).softmax(dim=1)` -> `model(x)`,
    `torch.sigmoid(model(x))` -> `model(x)`, for the function names given (`softmax`)."""
    def find(node: ast.AST) -> ast.AST | None:
        if not isinstance(node, ast.Call):
            return None
        name = callee(node).rsplit(".", 1)[-1]
        if name not in functions:
            return None
        return node
    indent, code, comment = _split(text)
    parsed = _parse(code)
    if parsed is None:
        return None
    tree, source = parsed
    starts = _offsets(source)
    for node in ast.walk(tree):
        if find(node) is None:
            continue
        assert isinstance(node, ast.Call)
        func = node.func
        begin, end = _span(node, starts)
        if isinstance(func, ast.Attribute) and callee(node).split(".")[0] not in (
                "torch", "F", "nn", "functional", "np") and not callee(node).startswith(
                "torch.nn.functional"):
            inner = source[slice(*_span(func.value, starts))]  # x.softmax(dim=1) -> x
        elif node.args:
            inner = source[slice(*_span(node.args[0], starts))]  # F.softmax(x, dim=1) -> x
        else:
            continue
        new = _trim(source, begin, end, inner, code)
        return _join(indent, new, comment) if _valid(new) and new != code else None
    return None


def rename_call(text: str, old: str, new: str) -> str | None:
    """The line with calls whose last name part is `old` calling `new` instead (same arguments):
    `x.softmax(dim=1)` -> `x.log_softmax(dim=1)`, `nn.NLLLoss()` -> `nn.CrossEntropyLoss()`."""
    indent, code, comment = _split(text)
    changed = re.sub(rf"(?<![\w]){re.escape(old)}(?=\s*\()", new, code)
    changed = re.sub(rf"\.{re.escape(old)}(?=\s*\()", f".{new}", changed)
    return _join(indent, changed, comment) if changed != code and _valid(changed) else None


def drop_argument(text: str, pattern: str) -> str | None:
    """The line without the call argument that matches `pattern` (a regular expression on its
    source): `nn.Sequential(a, b, nn.Softmax(dim=1))` -> `nn.Sequential(a, b)`."""
    indent, code, comment = _split(text)
    parsed = _parse(code)
    if parsed is None:
        return None
    tree, source = parsed
    starts = _offsets(source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for i, arg in enumerate(node.args):
            begin, end = _span(arg, starts)
            if not re.fullmatch(pattern, source[begin:end]):
                continue
            if i > 0:  # take the comma before it with it
                begin = _span(node.args[i - 1], starts)[1]
            elif len(node.args) > 1:
                end = _span(node.args[1], starts)[0]
            new = _trim(source, begin, end, "", code)
            return _join(indent, new, comment) if _valid(new) else None
    return None


def out_of_place(text: str) -> str | None:
    """The line with an in-place operation written out of place: `h *= 2` -> `h = h * 2`,
    `x.relu_()` -> `x = x.relu()`, `inplace=True` -> `inplace=False`."""
    indent, code, comment = _split(text)
    found = re.fullmatch(r"([\w.\[\]]+)\s*([+\-*/@]|//|\*\*)=\s*(.+)", code)
    if found:
        target, op, value = found.groups()
        simple = re.fullmatch(r"[\w.]+(\[[^\[\]]*\])?|\d+(\.\d*)?", value.strip())
        value = value.strip() if simple else f"({value.strip()})"
        new = f"{target} = {target} {op} {value}"
        return _join(indent, new, comment) if _valid(new) else None
    if "inplace=True" in code:
        new = code.replace("inplace=True", "inplace=False")
        return _join(indent, new, comment) if _valid(new) else None
    method = re.fullmatch(r"([\w.\[\]]+)\.(\w+)_\((.*)\)", code)
    if method and not method.group(2).startswith("_"):
        target, name, args = method.groups()
        new = f"{target} = {target}.{name}({args})"
        return _join(indent, new, comment) if _valid(new) else None
    return None


def assigned_names(text: str) -> list[str]:
    """The simple names a line assigns (`x, y = ...` -> [x, y]; `h += 1` -> [h])."""
    parsed = _parse(_split(text)[1])
    if parsed is None:
        return []
    node = parsed[0].body[0] if parsed[0].body else None
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    names: list[str] = []
    for target in targets:
        names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return names


def read_names(text: str) -> set[str]:
    """The simple names a line reads (on the right of an assignment, or anywhere in a call)."""
    parsed = _parse(_split(text)[1])
    if parsed is None:
        return set()
    node = parsed[0].body[0] if parsed[0].body else None
    if isinstance(node, ast.AugAssign):
        return {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)} | {
            n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value else node
    if value is None:
        return set()
    return {n.id for n in ast.walk(value) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)}

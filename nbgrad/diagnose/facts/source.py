"""Facts about the cell's structure, read from its syntax tree: the loops a line runs in, the
function it belongs to, where a name is assigned, which statement spans a line.

The records decide what is wrong; the tree only says where in the cell the fix goes (before the
training loop, inside the batch loop, in forward()). A cell that does not parse (IPython syntax
left in it) has no tree, and every function here answers as if it knew nothing.
"""

from __future__ import annotations

import ast
import functools

from nbgrad.records import Run

Loop = ast.For | ast.While | ast.AsyncFor

__all__ = [
    "assignments",
    "calls_of",
    "constructed_by",
    "function_of",
    "grad_updates",
    "last_list_item",
    "list_argument",
    "loop_body_lines",
    "loop_chain",
    "loops_around",
    "method_calls",
    "names_read",
    "number_assigned",
    "statement_at",
    "step_function",
]


@functools.lru_cache(maxsize=8)
def _tree(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def tree(run: Run) -> ast.Module | None:
    """The cell's syntax tree (line numbers count from the cell's first line, 1)."""
    return _tree(run.source)


def to_cell(run: Run, lineno: int) -> int:
    """A tree line number as the user sees it in the cell."""
    return run.first_line + lineno - 1


def to_tree(run: Run, line: int) -> int:
    return line - run.first_line + 1


def _children(node: ast.stmt) -> list[ast.stmt]:
    """The statements directly inside a compound statement (every block of it)."""
    out: list[ast.stmt] = []
    for key in ("body", "orelse", "finalbody"):
        out += [s for s in getattr(node, key, []) if isinstance(s, ast.stmt)]
    for handler in getattr(node, "handlers", []):
        out += handler.body
    for case in getattr(node, "cases", []):
        out += case.body
    return out


def _ancestors(module: ast.Module, lineno: int) -> list[ast.stmt]:
    """The statements that span `lineno`, outermost first (the last is the innermost)."""
    found: list[ast.stmt] = []
    body: list[ast.stmt] = module.body
    while True:
        inner = next((s for s in body if s.lineno <= lineno <= (s.end_lineno or s.lineno)), None)
        if inner is None:
            return found
        found.append(inner)
        body = _children(inner)


def statement_at(run: Run, line: int | None) -> ast.stmt | None:
    """The innermost statement that spans `line`."""
    module = tree(run)
    if module is None or line is None:
        return None
    chain = _ancestors(module, to_tree(run, line))
    return chain[-1] if chain and isinstance(chain[-1], ast.stmt) else None


def loops_around(run: Run, line: int | None) -> list[Loop]:
    """The for/while loops whose body holds `line`, outermost first (inside a function: only the
    loops of that function, since its callers' loops are not visible in its text)."""
    module = tree(run)
    if module is None or line is None:
        return []
    chain = _ancestors(module, to_tree(run, line))
    start = max((i + 1 for i, node in enumerate(chain)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))), default=0)
    lineno = to_tree(run, line)
    return [node for node in chain[start:] if isinstance(node, (ast.For, ast.While, ast.AsyncFor))
            and node.lineno < lineno]


def function_of(run: Run, line: int | None) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The innermost function definition that holds `line`."""
    module = tree(run)
    if module is None or line is None:
        return None
    chain = _ancestors(module, to_tree(run, line))
    found = [node for node in chain if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
             and node.lineno < to_tree(run, line)]
    return found[-1] if found else None


def step_function(run: Run, line: int | None) -> tuple[str, int] | None:
    """The function that holds `line` outside any loop of its own (a `train_step` that the loop
    calls once per step), as its name and the cell line of its first statement (after a
    docstring); None when `line` runs in a loop of its function or at the top level."""
    function = function_of(run, line)
    if function is None or loops_around(run, line):
        return None
    body = function.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return function.name, to_cell(run, body[0].lineno)


def calls_of(run: Run, function: str) -> list[int]:
    """Cell lines that call the cell's own function `function` by name (`train_step(...)`)."""
    module = tree(run)
    if module is None:
        return []
    return sorted({to_cell(run, node.lineno) for node in ast.walk(module)
                   if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                   and node.func.id == function})


def loop_chain(run: Run, line: int | None) -> list[int]:
    """Header lines of the loops that run `line`, outermost first, following a function the cell
    defines to the loop that calls it (`for epoch ...: train_one_epoch()`)."""
    chain: list[int] = []
    seen: set[int] = set()
    while line is not None and line not in seen:
        seen.add(line)
        chain = [to_cell(run, loop.lineno) for loop in loops_around(run, line)] + chain
        function = function_of(run, line)
        callers = calls_of(run, function.name) if function is not None else []
        line = callers[0] if callers else None
    return chain


def loop_body_lines(run: Run, header: int) -> tuple[int, int] | None:
    """(first, last) cell lines of the body of the loop whose header is on `header`."""
    node = statement_at(run, header)
    if not isinstance(node, (ast.For, ast.While, ast.AsyncFor)) or to_cell(run, node.lineno) != header:
        return None
    return to_cell(run, node.body[0].lineno), to_cell(run, node.end_lineno or node.lineno)


def assignments(run: Run, name: str) -> list[int]:
    """Cell lines that bind `name` (`name = ...`, `a, name = ...`, `name += ...`, `self.name =`)."""
    module = tree(run)
    if module is None:
        return []
    lines = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        else:
            continue
        for target in targets:
            for leaf in ast.walk(target):
                if (isinstance(leaf, ast.Name) and leaf.id == name) or \
                        (isinstance(leaf, ast.Attribute) and leaf.attr == name):
                    lines.add(to_cell(run, node.lineno))
    return sorted(lines)


def names_read(run: Run, line: int | None) -> list[str]:
    """The plain names the statement on `line` reads, in order of appearance."""
    node = statement_at(run, line)
    if node is None:
        return []
    found = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return list(dict.fromkeys(found))


def number_assigned(run: Run, name: str) -> tuple[int, float] | None:
    """(line, value) when the cell binds `name` exactly once, to a number (`reg = 0.1`)."""
    module = tree(run)
    if module is None:
        return None
    found = []
    for node in ast.walk(module):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name) and node.targets[0].id == name:
            found.append(node)
    if len(found) != 1:
        return None
    value = found[0].value
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub) and \
            isinstance(value.operand, ast.Constant):
        value = ast.Constant(-value.operand.value) if isinstance(value.operand.value, (int, float)) \
            else value
    if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)) and \
            not isinstance(value.value, bool):
        return to_cell(run, found[0].lineno), float(value.value)
    return None


def method_calls(run: Run, method: str) -> list[tuple[int, str]]:
    """(line, receiver) of every `receiver.method(...)` call whose receiver is a plain name or
    attribute chain (`sched.step()` -> (line, "sched"), `self.model.eval()` -> "self.model")."""
    module = tree(run)
    if module is None:
        return []
    found = []
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == method:
            receiver = _dotted(node.func.value)
            if receiver is not None:
                found.append((to_cell(run, node.lineno), receiver))
    return sorted(found)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner is not None else None
    return None


def constructed_by(run: Run, name: str) -> tuple[int, str] | None:
    """(line, callee) of `name = callee(...)`, the last such binding of `name` in the cell
    (`sched = torch.optim.lr_scheduler.StepLR(...)` -> (line, "torch.optim.lr_scheduler.StepLR"))."""
    module = tree(run)
    if module is None:
        return None
    found = None
    for node in ast.walk(module):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            for target in node.targets:
                if _dotted(target) == name:
                    callee = _dotted(node.value.func)
                    if callee is not None and (found is None or node.lineno > found[0]):
                        found = (node.lineno, callee)
    return (to_cell(run, found[0]), found[1]) if found else None


def list_argument(run: Run, line: int | None) -> tuple[str, int] | None:
    """For a call on `line` whose first argument is a name (`SGD(groups, lr=...)`), that name and
    the last line above `line` that builds or extends it (`groups = [...]`, `groups.append(...)`,
    `groups += [...]`): where another item of the list would go."""
    node = statement_at(run, line)
    module = tree(run)
    if node is None or module is None or line is None:
        return None
    call = next((c for c in ast.walk(node) if isinstance(c, ast.Call) and c.args
                 and isinstance(c.args[0], ast.Name)), None)
    if call is None:
        return None
    name = call.args[0].id  # type: ignore[attr-defined]
    limit = to_tree(run, line)
    found = [stmt.end_lineno or stmt.lineno for stmt in ast.walk(module)
             if isinstance(stmt, ast.stmt) and stmt.lineno < limit and _builds_list(stmt, name)]
    return (name, to_cell(run, max(found))) if found else None


def _builds_list(stmt: ast.stmt, name: str) -> bool:
    """`name = ...`, `name += ...` or `name.append/extend/insert(...)`."""
    if isinstance(stmt, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)
    if isinstance(stmt, ast.AugAssign):
        return isinstance(stmt.target, ast.Name) and stmt.target.id == name
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr in ("append", "extend", "insert")
            and isinstance(call.func.value, ast.Name) and call.func.value.id == name)


def last_list_item(run: Run, line: int | None) -> int | None:
    """For a call on `line` whose first argument is a list literal spread over several lines
    (`Adam([{...}, {...}], lr=...)`), the line of its last item: where another item is added."""
    node = statement_at(run, line)
    if node is None:
        return None
    for call in ast.walk(node):
        if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.List) \
                and call.args[0].elts:
            last = call.args[0].elts[-1]
            return to_cell(run, last.end_lineno or last.lineno)
    return None


def grad_updates(run: Run) -> list[int]:
    """Lines that update a tensor by hand from its gradient (`w -= lr * w.grad`,
    `p.data = p.data - lr * p.grad`), in order."""
    module = tree(run)
    if module is None:
        return []
    lines = set()
    for node in ast.walk(module):
        if isinstance(node, (ast.AugAssign, ast.Assign)) and any(
                isinstance(n, ast.Attribute) and n.attr == "grad" for n in ast.walk(node.value)):
            lines.add(to_cell(run, node.lineno))
    return sorted(lines)

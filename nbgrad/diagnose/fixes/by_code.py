"""What each code's fix changes in the cell, where the rule's one line of code is not the whole fix.

A rule says what is wrong and, where it is one line, the line to write (`fix_code` at `line`).
Some fixes are more than that line, or elsewhere: every line that cuts the loss from the model,
not the last one; the model's own input at the line that calls it, in the user's names, not a
`x = x.flatten(1)` beside it; the line that applies a softmax, not the loss call; the class's
`__init__` for a layer made in `forward()`; after a line, not before it. Each function here
reads the records and the cell's text and returns the edits (or, when the fix belongs outside the
cell, the words that say where), or None to keep the rule's own line.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

from nbgrad.diagnose import facts
from nbgrad.diagnose.diagnosis import Diagnosis, Edit
from nbgrad.diagnose.fixes import lines as L
from nbgrad.diagnose.fixes import rates
from nbgrad.records import LossCall, Run


@dataclass
class Fix:
    edits: list[Edit] = field(default_factory=list)
    words: str | None = None  # the fix in words, when the rule's do not say where it belongs


Fixer = Callable[[Run, Diagnosis], "Fix | None"]

LOSS_WRAPPERS = ("torch.nn.functional.", "nn.functional.", "functional.", "F.", "torch.")


def _replace(line: int | None, new: str | None) -> Fix | None:
    if line is None or not new:
        return None
    return Fix([Edit(line, "replace", new.strip())])


def _statement_at(run: Run, line: int | None) -> tuple[int, str] | None:
    """(first line, dedented text) of the smallest statement of the cell that holds `line`."""
    if line is None:
        return None
    try:
        tree = ast.parse(run.source)
    except SyntaxError:
        return None
    index = line - run.first_line + 1
    simple = [node for node in ast.walk(tree) if isinstance(node, ast.stmt)
              and not hasattr(node, "body") and node.end_lineno is not None
              and node.lineno <= index <= node.end_lineno]
    best = min(simple, key=lambda node: (node.end_lineno or 0) - node.lineno, default=None)
    if best is None or best.end_lineno is None:
        return None
    text = "\n".join(run.source.splitlines()[best.lineno - 1:best.end_lineno])
    return best.lineno + run.first_line - 1, textwrap.dedent(text)


def _loss_call(run: Run, d: Diagnosis, **match: object) -> LossCall | None:
    """The loss call the diagnosis is about, with the given field values: on its line, else the
    one whose input was made there (a diagnosis points where a softmax was applied or built),
    else the only such call."""
    calls = [c for c in run.forward.losses if all(getattr(c, k) == v for k, v in match.items())]
    on_line = [c for c in calls if c.line == d.line] or [c for c in calls
                                                         if c.input_from_line == d.line]
    if on_line:
        return on_line[0]
    return calls[0] if len({(c.function, c.line) for c in calls}) == 1 else None


def _is_loss_callee(call: LossCall) -> Callable[[str], bool]:
    """Whether a callee on the loss line is this loss: the module's name (`criterion`) or the
    function (`F.mse_loss`, `nn.functional.mse_loss`, `mse_loss`)."""
    def accepts(name: str) -> bool:
        if call.layer and name == call.layer:
            return True
        bare = name
        for prefix in LOSS_WRAPPERS:
            bare = bare.removeprefix(prefix)
        return bare == call.function
    return accepts


def _target_edit(run: Run, d: Diagnosis, call: LossCall | None, template: str) -> Fix | None:
    """The loss call's target (its second argument) rewritten in place, at the call."""
    if call is None or call.function == "subtraction" or d.line is None:
        return None
    new = L.rewrite_argument(run.cell_line(d.line), _is_loss_callee(call), 1,
                             lambda arg: L.wrapped(arg, template))
    return _replace(d.line, new)


def _model_name(run: Run, line: int | None) -> str | None:
    """The name of the model the cell calls at `line` (the model's input record), as the user
    calls it."""
    for inp in run.forward.inputs:
        if inp.line == line and "." not in inp.layer:
            return inp.layer
    return None


def _model_argument(run: Run, line: int | None, template: str) -> Fix | None:
    """The model's input rewritten at the call on `line`: `model(x)` -> `model(x / 255.0)`."""
    name = _model_name(run, line)
    if line is None:
        return None
    text = run.cell_line(line)
    if name is not None:
        new = L.rewrite_argument(text, lambda c: c == name, 0, lambda a: L.wrapped(a, template))
        if new:
            return _replace(line, new)
    # no input record (the forward pass failed at once): the one plain call that takes an
    # argument and is not a torch function
    plain = [c for c in re.findall(r"(?<![\w.])([A-Za-z_]\w*)\s*\(", text)
             if c not in ("print", "len", "range", "float", "int", "list", "zip", "enumerate")]
    for candidate in plain:
        new = L.rewrite_argument(text, _named(candidate), 0, lambda a: L.wrapped(a, template))
        if new:
            return _replace(line, new)
    return None


def _named(name: str) -> Callable[[str], bool]:
    return lambda callee: callee == name


# -- the loss cut from the model -------------------------------------------------------------------
def reconnect_loss(run: Run, d: Diagnosis) -> Fix | None:
    """Every line that cuts the history of what backward() is called on, not only the last one:
    `total += loss.item()` ... `total.backward()` changes the `+=` line."""
    at = run.error.line if run.error is not None else facts.first_line(run, "backward")
    variable = facts.backward_variable(run, at)
    if variable is None or at is None:
        return None
    before = [(n, text) for n, text in facts.cell_lines(run) if n < at]
    feeding = {variable}
    for _ in range(len(before)):  # what the variable is computed from, back to the model
        grew = False
        for _n, text in before:
            if set(L.assigned_names(text)) & feeding:
                more = L.read_names(text) - feeding
                if more:
                    feeding |= more
                    grew = True
        if not grew:
            break
    edits = []
    for n, text, found in facts.graph_breaks(run):
        if n >= at or found == ["torch.no_grad()"]:
            continue
        assigned = set(L.assigned_names(text))
        if not assigned & feeding:
            continue
        if variable not in assigned and set(found) <= {"torch.from_numpy(...)", "torch.tensor(...)"}:
            continue  # data made from NumPy on its way in: not a cut of the loss
        new = L.reconnect(text)
        if new:
            edits.append(Edit(n, "replace", new.strip()))
    return Fix(edits) if edits else None


def reconnect_line(run: Run, d: Diagnosis) -> Fix | None:
    """The one line the rule blames (a .detach() inside forward, on the generator's loss)."""
    text = run.cell_line(d.line)
    if not text or not re.search(r"\.detach\(\)|\.data\b|\.item\(\)|\.numpy\(\)", text):
        return None
    return _replace(d.line, L.reconnect(text))


# -- layers and optimizers -------------------------------------------------------------------------
def layer_made_in_forward(run: Run, d: Diagnosis) -> Fix | None:
    """Made once in the class's __init__, used in forward(): two lines of the class."""
    try:
        tree = ast.parse(run.source)
    except SyntaxError:
        return None
    if d.line is None:
        return None
    index = d.line - run.first_line + 1
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        methods = {m.name: m for m in cls.body if isinstance(m, ast.FunctionDef)}
        forward, init = methods.get("forward"), methods.get("__init__")
        if forward is None or not (forward.lineno <= index <= (forward.end_lineno or 0)):
            continue
        text = run.cell_line(d.line)
        made = re.search(r"(nn\.\w+\((?:[^()]|\([^()]*\))*\))\s*\(", text)
        if made is None:
            return None
        kind = re.match(r"nn\.(\w+)", made.group(1))
        attr = (kind.group(1).lower() if kind else "layer") + "_made_once"
        new = text.replace(made.group(1), f"self.{attr}", 1)
        if init is None or not init.body:
            return Fix(words=f"Create the layer once in {cls.name}.__init__ "
                             f"(self.{attr} = {made.group(1)}) and call self.{attr}(...) in "
                             "forward().")
        last = init.body[-1]
        return Fix([Edit(last.lineno + run.first_line - 1, "after",
                         f"self.{attr} = {made.group(1)}"),
                    Edit(d.line, "replace", new)])
    return Fix(words=d.fix.rstrip(".") + ", in the model's class (defined before this cell, "
                                          "not in it).")


def grads_not_in_optimizer(run: Run, d: Diagnosis) -> Fix | None:
    text = run.cell_line(d.line)
    if d.fix_code and ".add_param_group(" in d.fix_code and d.line is not None:
        return Fix([Edit(d.line, "after", d.fix_code)])  # the new layer must exist first
    rebuilt = re.match(r"^(\w+)\s*=[^=]", text)
    if rebuilt and "was rebuilt after" in d.title:
        name = rebuilt.group(1)
        for n, line in reversed([x for x in facts.cell_lines(run) if x[0] < (d.line or 0)]):
            if re.search(rf"optim\.\w+\(.*\b{re.escape(name)}\.parameters\(\)", line):
                statement = _statement_at(run, n)
                if statement is not None and d.line is not None:
                    return Fix([Edit(d.line, "after", statement[1])])
        return None
    if "was built on another model" in d.title:
        model = next((i.layer for i in run.forward.inputs if "." not in i.layer), None)
        if model is None:
            return None
        if d.line is None:  # the optimizer was built before this cell
            named = re.search(r"'(\w+)' was built on another model", d.title)
            name = named.group(1) if named else "the optimizer"
            return Fix(words=f"'{name}' is built before this cell, on another model than "
                             f"`{model}`, which computes the loss: build it again from "
                             f"{model}.parameters() (where it is built, after the last "
                             f"`{model} = ...`, or at the top of this cell).")
        new = L.splice(text, lambda node: node.func.value if isinstance(node, ast.Call)
                       and isinstance(node.func, ast.Attribute) and node.func.attr == "parameters"
                       else None, lambda _: model)
        return _replace(d.line, new)
    if not d.fix_code and d.layers and len(run.optimizers) == 1:
        # no cause found: the rule's first option, the layers' parameters given to the optimizer
        # (freezing them instead is said in words: it changes nothing the loss shows)
        roots = sorted({layer.split(".")[0] for layer in d.layers})
        built = facts.optimizer_line(run, 0)
        if len(roots) != 1 or built is None or not roots[0].isidentifier():
            return None
        new = L.rewrite_argument(run.cell_line(built), lambda c: ".optim." in f".{c}"
                                 or c.startswith("optim."), 0,
                                 lambda arg: f"[*{arg}, *{roots[0]}.parameters()]"
                                 if arg.endswith(".parameters()") else arg)
        return _replace(built, new)
    return None


FREEZE = r"[\w.\[\]]+\.requires_grad_\(\s*False\s*\)|[\w.\[\]]+\.requires_grad\s*=\s*False"


def _only_freezes(node: ast.stmt) -> bool:
    """Whether every simple statement inside `node` (itself, when it is one) freezes a tensor."""
    simple = [n for n in ast.walk(node) if isinstance(n, ast.stmt) and not hasattr(n, "body")]
    return bool(simple) and all(re.fullmatch(FREEZE, ast.unparse(n)) for n in simple)


def all_frozen(run: Run, d: Diagnosis) -> Fix | None:
    """The freeze removed: the line that sets requires_grad to False, with the loop or `if`
    around it when they do nothing else (`for m in model.modules(): if ...: m.requires_grad_(False)`)."""
    text = run.cell_line(d.line)
    if d.line is not None and re.fullmatch(FREEZE, text.split("#", 1)[0].strip()):
        return Fix([Edit(d.line, "remove")])
    try:
        module = ast.parse(run.source)
    except SyntaxError:
        return None
    if d.line is None:
        return None
    at = d.line - run.first_line + 1
    spanning = [n for n in ast.walk(module) if isinstance(n, ast.stmt) and n.end_lineno is not None
                and n.lineno <= at <= n.end_lineno and _only_freezes(n)
                and not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    if not spanning:
        return None
    outer = min(spanning, key=lambda n: n.lineno)
    return Fix([Edit(outer.lineno + run.first_line - 1, "remove")])


# -- clearing and stepping ----------------------------------------------------------------------
def _first(run: Run, kind: str) -> int | None:
    return facts.first_line(run, kind)


def step_order(run: Run, d: Diagnosis) -> Fix | None:
    """zero_grad() moved after step() (NBG302), or step() after backward() (NBG303): the other
    lines stay where they are."""
    z, b, s = _first(run, "zero_grad"), _first(run, "backward"), _first(run, "step")
    if None in (z, b, s):
        return None
    if d.code == "NBG302":
        return Fix([Edit(z, "remove"), Edit(s, "after", run.cell_line(z))])  # type: ignore[arg-type]
    return Fix([Edit(s, "remove"), Edit(b, "after", run.cell_line(s))])  # type: ignore[arg-type]


def clip_before_step(run: Run, d: Diagnosis) -> Fix | None:
    """clip_grad_norm_ moved from after step() to right after backward() (NBG407), so that the
    step uses the clipped gradients; the call itself is the user's, unchanged."""
    backward = _first(run, "backward")
    clip = _statement_at(run, d.line)
    if backward is None or clip is None or d.line is None or backward >= d.line:
        return None
    return Fix([Edit(d.line, "remove"), Edit(backward, "after", clip[1])])


def scheduler_per_epoch(run: Run, d: Diagnosis) -> Fix | None:
    """The scheduler's step() moved out of the batch loop to the end of the epoch loop (NBG408):
    after the inner loop, in the loop around it."""
    loops = facts.loop_chain(run, d.line)
    text = run.cell_line(d.line).strip()
    if len(loops) < 2 or d.line is None or not re.fullmatch(r"[\w.]+\.step\(\)", text):
        return None
    return Fix([Edit(d.line, "remove"), Edit(loops[-1], "after", text)])


def clear_manual_grads(run: Run, d: Diagnosis) -> Fix | None:
    """An update by hand that never clears .grad (NBG301 without an optimizer): each updated
    tensor's gradient cleared after the last update, in the same block (under no_grad)."""
    if d.fix_code or d.line is None:
        return None
    names: list[str] = []
    for n in facts.grad_updates(run):
        node = facts.statement_at(run, n)
        target = node.target if isinstance(node, ast.AugAssign) else \
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        while isinstance(target, ast.Attribute) and target.attr == "data":
            target = target.value  # p.data = p.data - lr * p.grad: clear p.grad
        if isinstance(target, ast.Name) and target.id not in names:
            names.append(target.id)
    if not names:
        return None
    return Fix([Edit(d.line, "after", "\n".join(f"{n}.grad.zero_()" for n in names))])


def after_the_line(run: Run, d: Diagnosis) -> Fix | None:
    """step() after backward() (NBG305), update() after the scaler's step (NBG406)."""
    if not d.fix_code or d.line is None:
        return None
    return Fix([Edit(d.line, "after", d.fix_code)])


# -- depth, activations, initialisation -----------------------------------------------------------
INIT_LINE = r"nn\.init\.\w+\(|\.(normal_|uniform_|fill_|constant_|copy_|zero_)\(|\.data\s*[*+-]?="


def relu_instead(run: Run, d: Diagnosis) -> Fix | None:
    text = run.cell_line(d.line)
    if d.line is None and not d.fix_code and run.forward.inputs:
        model = run.forward.inputs[0].layer  # the activations are in a model built earlier
        return Fix(words=f"{d.fix.rstrip('.')}. `{model}` is built before this cell, so the "
                         "change belongs where it is built; then run this check again.")
    if d.fix_code or not re.search(r"\bnn\.(Sigmoid|Tanh)\b", text):
        return None
    return _replace(d.line, re.sub(r"\bnn\.(Sigmoid|Tanh)\b", "nn.ReLU", text))


def activation_between(run: Run, d: Diagnosis) -> Fix | None:
    """nn.ReLU() put between each two Linear layers that follow each other in the nn.Sequential
    the cell builds (NBG603), written as the user writes its layers (`nn.`, `torch.nn.`). Not
    when the cell indexes the model (`model[2]`): the new layers would shift those indices."""
    statement = _statement_at(run, d.line)
    if statement is None:
        return None
    start, source = statement
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.Assign) or len(node.targets) != 1 or \
            not isinstance(node.targets[0], ast.Name):
        return None
    name = node.targets[0].id
    if any(re.search(rf"\b{re.escape(name)}\s*\[", text) for _, text in facts.cell_lines(run)):
        return None
    call = node.value
    if not isinstance(call, ast.Call) or not L.callee(call).endswith("Sequential"):
        return None
    starts = [0]
    for text in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(text))
    inserts = []
    for a, b in zip(call.args, call.args[1:]):
        linear = [L.callee(x) if isinstance(x, ast.Call) else "" for x in (a, b)]
        if all(c.endswith("Linear") for c in linear) and a.end_lineno and a.end_col_offset:
            prefix = linear[0].removesuffix("Linear")
            inserts.append((starts[a.end_lineno - 1] + a.end_col_offset, f", {prefix}ReLU()"))
    if not inserts:
        return None
    for at, text in sorted(inserts, reverse=True):
        source = source[:at] + text + source[at:]
    return Fix([Edit(start, "replace", source)])


def penalty_weight(run: Run, d: Diagnosis) -> Fix | None:
    """The penalty's weight lowered 100-fold where it is set (`l2 = 10.0` -> `l2 = 0.1`), the
    factor the rule's words propose (NBG409); a penalty with no weight of its own: words only."""
    statement = _statement_at(run, d.line)
    if statement is None or "\n" in statement[1]:
        return None
    node = ast.parse(statement[1]).body[0]
    if not isinstance(node, ast.Assign) or len(node.targets) != 1 or \
            not isinstance(node.targets[0], ast.Name) or not isinstance(node.value, ast.Constant):
        return None
    weight = node.value.value
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        return None
    new = L.splice(run.cell_line(d.line), lambda n: n if isinstance(n, ast.Constant) else None,
                   lambda _: f"{weight / 100:g}")
    return _replace(d.line, new)


def remove_init(run: Run, d: Diagnosis) -> Fix | None:
    """The hand-made initialisation the rule found to be the cause: removed (PyTorch's default)."""
    text = run.cell_line(d.line)
    if d.line is None or not re.search(INIT_LINE, text):
        return None
    return Fix([Edit(d.line, "remove")])


def variance_preserving_init(run: Run, d: Diagnosis) -> Fix | None:
    """Weights initialised far too large (NBG552): in a ReLU model, the init call on the line
    becomes He's, `nn.init.kaiming_normal_(<the same weight>, nonlinearity='relu')`, the rule's
    first advice, in the user's names and loop; otherwise the line is removed (PyTorch's default)."""
    text = run.cell_line(d.line)
    relu = any("ReLU" in m.type for m in run.forward.modules) or \
        any("ReLU" in f.fed_by_type for f in run.forward.feeds)
    if relu and text:
        def init_call(node: ast.AST) -> ast.AST | None:
            if isinstance(node, ast.Call) and re.fullmatch(r"(torch\.)?(nn\.)?init\.\w+",
                                                           L.callee(node)) and node.args \
                    and "bias" not in ast.unparse(node.args[0]):
                return node
            return None

        def he(call: str) -> str:
            node = ast.parse(call, mode="eval").body
            assert isinstance(node, ast.Call)
            prefix = L.callee(node).rsplit(".", 1)[0]
            return f"{prefix}.kaiming_normal_({ast.unparse(node.args[0])}, nonlinearity='relu')"
        new = L.splice(text, init_call, he)
        if new:
            return _replace(d.line, new)
    return remove_init(run, d)


def _drop_nan_rows(run: Run, line: int | None) -> Fix | None:
    """Rows with NaN/Inf in the model's input (or their targets) dropped right before the model's
    call: `keep = ...; x, y = x[keep], y[keep]`, in the user's names. Once per iteration, so a
    batch is cleaned as it comes (and whole data only the first time)."""
    name = _model_name(run, line)
    text = run.cell_line(line)
    if name is None or line is None:
        return None
    given = L.argument_text(text, lambda c: c == name, 0)
    if given is None or not given.isidentifier():
        return None
    targets = [c for c in run.forward.losses if c.target is not None]
    loss_text = run.cell_line(targets[0].line) if targets else ""
    target = L.argument_text(loss_text, _is_loss_callee(targets[0]), 1) if targets else None
    names = [given] + ([target] if target and target.isidentifier() and target != given else [])
    good = " & ".join(f"{n}.isfinite().reshape(len({n}), -1).all(1)" for n in names)
    code = (f"keep = {good}  # the rows without NaN/Inf\n"
            f"{', '.join(names)} = {', '.join(f'{n}[keep]' for n in names)}")
    return Fix([Edit(line, "before", code)])


def nonfinite(run: Run, d: Diagnosis) -> Fix | None:
    text = run.cell_line(d.line)
    if any("NaN/Inf values" in e.text and "the input of" in e.text for e in d.evidence):
        return _drop_nan_rows(run, d.line) or _model_argument(run, d.line, "torch.nan_to_num({})")
    op = next((o for o in run.forward.nonfinite_ops if o.line == d.line), None)
    if op is None or not text:
        return None
    if op.op in ("log", "log2", "log10"):
        new = L.rewrite_argument(text, lambda c: c.endswith(op.op), 0,
                                 lambda a: L.wrapped(a, "{}.clamp_min(1e-8)"))
        return _replace(d.line, new)
    if op.op in ("sqrt", "rsqrt"):
        new = L.rewrite_argument(text, lambda c: c.endswith(op.op), 0,
                                 lambda a: L.wrapped(a, "{}.clamp_min(1e-8)"))
        return _replace(d.line, new)
    if op.op in ("div", "__truediv__", "true_divide", "divide"):
        new = L.splice(text, lambda node: node.right if isinstance(node, ast.BinOp)
                       and isinstance(node.op, ast.Div) else None, lambda r: f"({r} + 1e-8)")
        return _replace(d.line, new)
    return None


def train_mode(run: Run, d: Diagnosis) -> Fix | None:
    text = run.cell_line(d.line)
    if ".eval()" in text and d.fix_code:
        return _replace(d.line, text.replace(".eval()", ".train()", 1))
    return None


# -- what the loss receives -----------------------------------------------------------------------
def _squash_fix(run: Run, d: Diagnosis, op: str, at: int | None, remove: bool) -> Fix | None:
    """Take out (or, for NLLLoss, turn into its log form) the `op` that feeds the loss: on the
    line that applies it, or in the model built in the cell; when it is neither, say where."""
    text = run.cell_line(at)
    rename = {"softmax": "log_softmax", "Softmax": "LogSoftmax"}
    if at is not None and re.search(rf"\b{op}\s*\(", text):
        new = L.unwrap(text, (op,)) if remove else L.rename_call(text, op, rename.get(op, op))
        return _replace(at, new)
    module = op[0].upper() + op[1:]
    for n, line in facts.cell_lines(run):
        if re.search(rf"\bnn\.{module}\(", line):
            statement = _statement_at(run, n)
            if statement is None:
                return None
            start, source = statement
            if remove:
                new = L.drop_argument(source, rf"nn\.{module}\(.*\)") if "\n" not in source \
                    else _drop_in_statement(source, module)
            else:
                new = source.replace(f"nn.{module}(", f"nn.{rename.get(module, module)}(")
            return Fix([Edit(start, "replace", new)]) if new else None
    model = _model_name(run, at)
    kind = next((m.type for m in run.forward.modules if m.layer == model), "") if model else ""
    where = f"`{model}`" + (f" ({kind})" if kind and kind != model else "") if model else \
        "the model"
    action = f"remove the {op}" if remove else f"use log_{op} instead of {op}"
    return Fix(words=f"The {op} is applied inside {where}, whose code is not in this cell (a class "
                     f"or function defined before it): {action} in its forward() there, so that "
                     f"it returns raw scores"
                     + ("; apply softmax only where you need probabilities (predictions, metrics)."
                        if remove else " for NLLLoss."))


def _drop_in_statement(source: str, module: str) -> str | None:
    """A multi-line statement without its `nn.<module>(...)` argument (a line of its own)."""
    kept = [line for line in source.splitlines() if not re.fullmatch(
        rf"\s*nn\.{module}\([^()]*\),?\s*(#.*)?", line)]
    if len(kept) == len(source.splitlines()):
        joined = re.sub(rf",\s*nn\.{module}\([^()]*\)", "", source)
        return joined if joined != source else None
    new = "\n".join(kept)
    new = re.sub(r",(\s*\))", r"\1", new)
    try:
        ast.parse(new)
    except SyntaxError:
        return None
    return new


def probabilities_into_logit_loss(run: Run, d: Diagnosis) -> Fix | None:
    call = _loss_call(run, d, input_from="softmax") or _loss_call(run, d, input_from="sigmoid")
    if call is None:
        return None
    return _squash_fix(run, d, call.input_from, call.input_from_line, remove=True)


def nll_without_log(run: Run, d: Diagnosis) -> Fix | None:
    call = _loss_call(run, d, function="nll_loss")
    if call is None:
        return None
    if call.input_from in ("softmax",):
        return _squash_fix(run, d, "softmax", call.input_from_line, remove=False)
    built = next((n for n, text in facts.cell_lines(run) if re.search(r"\bnn\.NLLLoss\(", text)),
                 None)
    if built is not None:
        return _replace(built, L.rename_call(run.cell_line(built), "NLLLoss", "CrossEntropyLoss"))
    return _replace(d.line, L.rename_call(run.cell_line(d.line), "nll_loss", "cross_entropy"))


def broadcast(run: Run, d: Diagnosis) -> Fix | None:
    call = next((c for c in run.forward.losses if c.line == d.line and c.broadcast_shape), None)
    if call is None:
        return None
    text = run.cell_line(d.line)
    if call.function == "subtraction":
        def both_sides(source: str) -> str:
            node = ast.parse(source, mode="eval").body
            assert isinstance(node, ast.BinOp)
            left = ast.get_source_segment(source, node.left) or ""
            right = ast.get_source_segment(source, node.right) or ""
            return f"{left} - {L.wrapped(right, '{}.view_as(' + left + ')')}"
        new = L.splice(text, lambda node: node if isinstance(node, ast.BinOp)
                       and isinstance(node.op, ast.Sub) else None, both_sides)
        return _replace(d.line, new)
    prediction = L.argument_text(text, _is_loss_callee(call), 0)
    if prediction is None:
        return None
    return _target_edit(run, d, call, "{}.view_as(" + prediction + ")")


def labels_out_of_range(run: Run, d: Diagnosis) -> Fix | None:
    call = next((c for c in run.forward.losses if c.line == d.line and c.classes), None)
    if call is None or call.label_min is None or call.label_max is None:
        return None
    if not (call.label_min >= 1 and call.label_max == call.classes):
        return None  # only 1-based labels have a fix that is surely right
    return _target_edit(run, d, call, "{} - 1")


def bce_targets(run: Run, d: Diagnosis) -> Fix | None:
    call = next((c for c in run.forward.losses if c.line == d.line
                 and c.function.startswith("binary_cross_entropy") and c.target is not None), None)
    if call is None or call.target is None or call.target.min is None or call.target.max is None:
        return None
    low, high = call.target.min, call.target.max
    if high <= low:
        return None
    template = f"{{}} / {high:g}" if low == 0 else f"({{}} - {low:g}) / {high - low:g}"
    return _target_edit(run, d, call, template)


def input_scale(run: Run, d: Diagnosis) -> Fix | None:
    inputs = [i for i in run.forward.inputs if i.summary.mean is not None]
    if not inputs:
        return None
    s = inputs[0].summary
    pixels = s.min is not None and s.max is not None and s.min >= 0 and 1 < s.max <= 255
    template = "{} / 255.0" if pixels else f"({{}} - {s.mean:.4g}) / {s.std or 1:.4g}"
    return _model_argument(run, inputs[0].line, template)


def target_scale(run: Run, d: Diagnosis) -> Fix | None:
    """Targets standardised with their measured mean and std: at the loss call, its target
    argument; at the line that makes the targets (`y = price`), the value assigned, when that
    name is what the only loss call takes as its target."""
    calls = [c for c in run.forward.losses if c.target is not None and c.target.mean is not None]
    call = next((c for c in calls if c.line == d.line), None)
    if call is not None and call.target is not None:
        return _target_edit(run, d, call, f"({{}} - {call.target.mean:.4g}) / "
                                          f"{call.target.std or 1:.4g}")
    if d.line is None or len({(c.function, c.line) for c in calls}) != 1:
        return None
    call = calls[0]
    assert call.target is not None and call.target.mean is not None
    template = f"({{}} - {call.target.mean:.4g}) / {call.target.std or 1:.4g}"
    target = L.argument_text(run.cell_line(call.line), _is_loss_callee(call), 1)
    node = facts.statement_at(run, d.line)
    if not isinstance(node, ast.Assign) or len(node.targets) != 1 or \
            not isinstance(node.targets[0], ast.Name) or node.targets[0].id != target:
        return None
    new = L.splice(run.cell_line(d.line), lambda n: n.value if isinstance(n, ast.Assign) else None,
                   lambda value: L.wrapped(value, template))
    return _replace(d.line, new)


# -- the exceptions -------------------------------------------------------------------------------
def inplace(run: Run, d: Diagnosis) -> Fix | None:
    return _replace(d.line, L.out_of_place(run.cell_line(d.line)))


def _argument_named(run: Run, d: Diagnosis, name: str, template: str) -> Fix | None:
    """At the error line, the call argument written `name` rewritten (`y` -> `y.squeeze(1)`):
    a change at the call, which runs once per call, not a rebinding that runs again and again."""
    text = run.cell_line(d.line)
    new = L.splice(text, lambda node: next((a for a in node.args if isinstance(a, ast.Name)
                                            and a.id == name), None)
                   if isinstance(node, ast.Call) else None,
                   lambda arg: L.wrapped(arg, template))
    return _replace(d.line, new)


def dtypes(run: Run, d: Diagnosis) -> Fix | None:
    found = re.fullmatch(r"(\w+) = \1\.(long|float)\(\)", d.fix_code or "")
    if found is None or d.line is None or run.error is None or d.line != run.error.line:
        return None  # X = X.float() at the line that makes X: put after it (edits.kind_of)
    return _argument_named(run, d, found.group(1), "{}." + found.group(2) + "()")


def flatten(run: Run, d: Diagnosis) -> Fix | None:
    """Flatten at the model's call, in the user's own expression (`images[i:i + 16]`), not a
    `x = x.flatten(1)` beside it: `x` may be another variable, or none."""
    if not (d.fix_code or "").startswith("x = x.flatten(1)"):
        return None  # the layer's in_features: the rule's own line
    fix = _model_argument(run, d.line, "{}.flatten(1)")
    if fix is None:
        return None
    name = _model_name(run, d.line) or _first_call(run.cell_line(d.line))
    given = L.argument_text(run.cell_line(d.line), _named(name), 0) if name else None
    if given is not None:
        fix.words = d.fix.replace("x.flatten(1)", f"{L.wrapped(given, '{}.flatten(1)')} where "
                                  f"line {d.line} calls {name}")
    return fix


def _first_call(text: str) -> str | None:
    found = re.search(r"(?<![\w.])([A-Za-z_]\w*)\s*\(", text)
    return found.group(1) if found else None


def column_targets(run: Run, d: Diagnosis) -> Fix | None:
    """A column of class labels: squeezed at the call that raised (`criterion(out, y)` ->
    `criterion(out, y.squeeze(1))`), or, where the diagnosis points at the line that makes the
    labels, right after that line, in the loop where it runs."""
    found = re.match(r"(\w+) = \1\.squeeze\(1\)", d.fix_code or "")
    if found is None:
        return None
    name = found.group(1)
    if d.line is not None and run.error is not None and d.line != run.error.line:
        if name not in L.assigned_names(run.cell_line(d.line)):
            return None
        return Fix([Edit(d.line, "after", d.fix_code or "")])
    return _argument_named(run, d, name, "{}.squeeze(1)")


def learning_rate(run: Run, d: Diagnosis) -> Fix | None:
    """A rate changed where the cell builds the optimizer is the rule's own line; an optimizer
    built before the cell gets its rate set at the top of the cell."""
    found = rates.proposal(run, d)
    if found is None:
        return None
    edits, words = found
    return Fix(edits, words)


FIXERS: dict[str, Fixer] = {
    "NBG101": reconnect_loss, "NBG901": reconnect_loss, "NBG909": reconnect_loss,
    "NBG102": reconnect_line, "NBG202": reconnect_line,
    "NBG103": layer_made_in_forward,
    "NBG201": grads_not_in_optimizer,
    "NBG203": all_frozen,
    "NBG301": clear_manual_grads,
    "NBG302": step_order, "NBG303": step_order,
    "NBG305": after_the_line, "NBG406": after_the_line,
    "NBG407": clip_before_step, "NBG408": scheduler_per_epoch, "NBG409": penalty_weight,
    "NBG401": learning_rate, "NBG402": learning_rate, "NBG403": learning_rate,
    "NBG703": learning_rate,
    "NBG704": remove_init,
    "NBG501": relu_instead,
    "NBG503": nonfinite,
    "NBG551": remove_init, "NBG552": variance_preserving_init, "NBG601": remove_init, "NBG602": remove_init,
    "NBG603": activation_between,
    "NBG651": train_mode,
    "NBG801": probabilities_into_logit_loss,
    "NBG803": nll_without_log,
    "NBG804": broadcast,
    "NBG805": labels_out_of_range,
    "NBG806": bce_targets,
    "NBG851": input_scale,
    "NBG852": target_scale,
    "NBG903": inplace,
    "NBG904": dtypes,
    "NBG906": flatten,
    "NBG908": column_targets,
}

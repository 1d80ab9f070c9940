"""The exceptions students hit most, said in plain words with the fix.

The user's traceback is shown unchanged; this adds a diagnosis beside it. Each explanation is chosen
by matching the exception's type and message (run.error), and made concrete from the message's own
numbers (the feature counts of a shape mismatch) and from the cell's lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import CATALOGUE, make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import Run

Detail = tuple[list[Evidence], "str | None", "int | None", "str | None"]


@dataclass
class Known:
    """An exception nbgrad explains: its code (the catalogue holds its slug and title), the
    message it is recognised by, and how to make the explanation concrete."""

    code: str
    pattern: str  # searched in "Type: message"
    why: str
    fix: str
    # (run, match) -> (extra evidence, fix_code, fix line, fix text or None to keep `fix`)
    detail: Callable[[Run, re.Match[str]], Detail] | None = None
    # a message that other causes give too: explained only when `detail` finds this cause's line
    needs_line: str = ""


def _not_connected(run: Run, match: re.Match[str]) -> Detail:
    error_line = run.error.line if run.error else None
    variable = facts.backward_variable(run, error_line)
    assigned = facts.assignment_line(run, variable, error_line) if variable else None
    if facts.probe_watched(run):
        cuts, rebuilt = facts.loss_cuts(run), facts.rebuilt_loss(run)
        evidence = [Evidence(facts.cut_text(run, c), step=c.step) for c in cuts[:3]]
        target = cuts[0].line if cuts else rebuilt.made_line if rebuilt else assigned
        outside = bool(cuts and cuts[0].where)
        fix = facts.cut_fix(run, cuts[0]) if cuts else None
        code = facts.reconnected(run.cell_line(target)) if target and not outside else None
        return evidence, code, target, fix
    breaks = facts.graph_breaks(run)
    evidence = [Evidence(f"line {n} `{text}` uses {', '.join(found)}: the result has no autograd "
                         "history") for n, text, found in breaks[:3]]
    line = next((n for n, _, found in breaks if "torch.no_grad()" not in found), None)
    target = line or assigned
    return evidence, facts.reconnected(run.cell_line(target)) if target else None, target, None


def _carried_state(run: Run, match: re.Match[str]) -> Detail:
    """`out, hidden = model(x, hidden)`: a state that comes back into the next forward pass."""
    for number, text in facts.cell_lines(run):
        found = re.match(r"^\s*([\w\s,()]+?)\s*=\s*[\w.]+\((.*)\)\s*$", text)
        if not found or facts.in_forward(run, number):
            continue  # inside forward() the state is an argument, not carried over
        targets = re.findall(r"\w+", found.group(1))
        args = set(re.findall(r"\w+", found.group(2)))
        carried = [t for t in targets if t in args]
        if carried:
            name = carried[-1]
            indent = text[:len(text) - len(text.lstrip())]
            return ([Evidence(f"line {number} `{text.strip()}` feeds `{name}` from the previous "
                              "iteration back into the model")],
                    f"{indent}{name} = {name}.detach()".strip(), number,
                    f"Cut the history of `{name}` before each forward pass, right before line "
                    f"{number}: it keeps the values but forgets the previous iteration's graph.")
    return _made_before_loop(run)


def _loop_start(run: Run, line: int) -> int | None:
    """The `for`/`while` line of the innermost loop around `line`."""
    lines = facts.cell_lines(run)
    index = next((i for i, (n, _) in enumerate(lines) if n == line), None)
    if index is None:
        return None
    depth = len(lines[index][1]) - len(lines[index][1].lstrip())
    for number, text in reversed(lines[:index]):
        indent = len(text) - len(text.lstrip())
        if text.strip() and indent < depth:
            if re.match(r"\s*(for|while)\b", text):
                return number
            depth = indent
    return None


def _made_before_loop(run: Run) -> Detail:
    """A value the loss uses that was computed from the parameters once, before the loop: the
    first backward() frees its graph, the second goes through it again."""
    error_line = run.error.line if run.error else None
    start = _loop_start(run, error_line) if error_line else None
    variable = facts.backward_variable(run, error_line)
    loss_line = facts.assignment_line(run, variable, error_line) if variable else None
    if start is None or loss_line is None:
        return [], None, None, None
    params = {name.split(".")[0] for name in run.params} | {p.layer.split(".")[0] for p in
                                                           run.params.values()}
    for name in sorted(facts.names_feeding(run, loss_line, depth=1)):
        made = facts.assignment_line(run, name, error_line)
        if made is None or made >= start:
            continue
        value = run.cell_line(made).split("=", 1)[-1]
        if set(re.findall(r"[A-Za-z_]\w*", value)) & params:
            return ([Evidence(f"line {made} `{run.cell_line(made)}` computes `{name}` from the "
                              f"parameters once, before the loop at line {start}; every "
                              "iteration's loss reuses its graph")],
                    None, made,
                    f"Move line {made} into the loop, so that each iteration computes `{name}` "
                    "afresh from the current parameters.")
    return [], None, None, None


def _inplace_recorded(run: Run, match: re.Match[str]) -> Detail | None:
    """The in-place change the probe saw on a tensor made by the op the message names
    ("output 0 of ReluBackward0"). An augmented assignment (x += y) is fixed where it is
    (x = x + y); an item assignment (x[i] = 0) needs a copy where the tensor is made (.clone())."""
    made = re.search(r"output \d+ of (\w+?)(?:Backward\d*)?(?=[,\s])",
                     run.error.message if run.error else "")
    if made is None or not run.forward.inplace:
        return None
    op = made.group(1).lower()
    hits = [i for i in run.forward.inplace if i.target_made_by.rstrip("_").lower() == op]
    if not hits:
        return None
    change = hits[0]
    item = change.op == "__setitem__"
    line = change.target_line if item and change.target_line is not None else change.line
    evidence = [Evidence(f"autograd saved {match.group('what')} for backward(), and it was "
                         "changed in place before backward() ran"),
                Evidence(f"{facts.place(run, change.line)} changes in place ({change.op}) the "
                         f"output of {change.target_made_by} made at "
                         f"{facts.place(run, change.target_line)}", step=change.step)]
    fix = (f"Work on a copy: make the tensor with .clone() at line {line} (or build the new values "
           "with torch.where / a mask multiplication instead of assigning into it)." if item else
           f"Write the out-of-place form at line {line}: x = x + ... instead of x += ... (and "
           "inplace=False for layers).")
    return evidence, None, line, fix


def _inplace(run: Run, match: re.Match[str]) -> Detail:
    recorded = _inplace_recorded(run, match)
    if recorded is not None:
        return recorded
    candidates = [(n, text.strip()) for n, text in facts.cell_lines(run)
                  if re.search(r"[+\-*/]=|\.(?!_)\w*[^_\W]_\(|inplace\s*=\s*True|\]\s*=[^=]",
                               text.split("#", 1)[0])
                  and not re.search(r"zero_grad|requires_grad_|manual_seed", text)]
    evidence = [Evidence(f"autograd saved {match.group('what')} for backward(), and it was "
                         "changed in place before backward() ran")]
    evidence += [Evidence(f"line {n} `{text}` changes a tensor in place") for n, text in
                 candidates[:3]]
    return evidence, None, candidates[0][0] if candidates else None, None


def _shapes(run: Run, match: re.Match[str]) -> Detail:
    rows, given, expected, out = (int(match.group(k)) for k in ("rows", "given", "expected", "out"))
    evidence = [Evidence(f"the input reaching the Linear layer has {given} features per row "
                         f"({rows} rows), but the layer was built for {expected} "
                         f"(nn.Linear({expected}, {out}))", value=float(given))]
    if given < expected and expected % given == 0 and rows % (expected // given) == 0:
        batch = rows // (expected // given)
        evidence.append(Evidence(f"{rows} rows of {given} are {batch} samples of "
                                 f"{expected // given} x {given} = {expected} values: the input "
                                 "was not flattened"))
        return (evidence, "x = x.flatten(1)  # (N, ...) -> (N, features)",
                run.error.line if run.error else None,
                f"Flatten each sample before the Linear layer: x.flatten(1), or nn.Flatten() in "
                f"the model, so that the layer receives ({batch}, {expected}).")
    line = _linear_line(run, expected, out)
    code = None
    if line is not None:
        code = re.sub(rf"Linear\(\s*(in_features\s*=\s*)?{expected}\b",
                      lambda m: f"Linear({m.group(1) or ''}{given}", run.cell_line(line), count=1)
        code = None if code == run.cell_line(line) else code  # in_features is a name there
    return (evidence, code, line,
            f"Make the layer's in_features match the data: nn.Linear({given}, {out}), or change "
            "the layer before it so that it outputs "
            f"{expected} features.")


def _linear_line(run: Run, expected: int, out: int) -> int | None:
    """The line that builds the Linear layer of weight (out, expected): found among the run's
    parameters by shape, then among the cell's `Linear(` lines by its name or its numbers."""
    layers = sorted({p.layer for p in run.params.values()
                     if p.shape == [out, expected] and run.layers.get(p.layer) is not None
                     and run.layers[p.layer].type == "Linear"})
    started = [m.layer for m in run.forward.modules if m.type == "Linear"]
    if not layers and started:  # it raised before its parameters were seen: the last one started
        layers = [started[-1]]
    numbers = rf"Linear\(\s*(in_features\s*=\s*)?{expected}\b"
    for layer in layers:
        line = facts.constructor_line(run, layer, "Linear", numbers)
        if line is not None:
            return line
    return facts.line_matching(run, numbers)


def _call_arguments(text: str) -> list[str]:
    """The simple names passed to the last call on a line: `criterion(out, y)` -> [out, y]."""
    calls = re.findall(r"\(\s*([\w.()\[\]]+)\s*,\s*(\w+)\s*[,)]", text)
    return list(calls[-1]) if calls else []


def _dtypes(run: Run, match: re.Match[str]) -> Detail:
    text = f"{run.error.message}" if run.error else ""
    error_line = run.error.line if run.error else None
    if re.search(r"target dtype to be Long|Found dtype Long but expected Float|"
                 r"Expected floating point type for target", text):
        wants = "long" if "to be Long" in text else "float"
        args = _call_arguments(run.cell_line(error_line))
        target = args[1] if len(args) == 2 else "y"
        return ([Evidence(f"the loss wants {'int64 class indices' if wants == 'long' else 'float targets'}"
                          f" but `{target}` is {'float' if wants == 'long' else 'int64 (Long)'}")],
                f"{target} = {target}.{wants}()", error_line, None)
    if re.search(r"Double|double", text):
        line = _float64_line(run, error_line)
        name = re.match(r"^\s*(\w+)\s*=", run.cell_line(line)) if line else None
        evidence = [Evidence("one side is float64 (Double), as NumPy data and dtype=torch.float64 are; "
                             "the layers' weights are float32 (Float)")]
        if line is not None:
            evidence.append(Evidence(f"line {line} `{run.cell_line(line)}` makes float64 data"))
        code = f"{name.group(1)} = {name.group(1)}.float()" if name else None
        return evidence, code, line, "Convert the data to float32 once, where it is made: X = X.float()."
    return [], None, None, None


FLOAT64 = r"float64|\.double\(\)|from_numpy\(|DoubleTensor|np\.(array|asarray|random|loadtxt|genfromtxt)"
# a line that converts to float32 makes float32 data, whatever NumPy call it also holds
FLOAT32 = r"float32|\.float\(\)|torch\.float\b|\.half\(\)"
# where NumPy data becomes a tensor, or a tensor is made float64: the boundary `X = X.float()` fixes
TENSOR_MADE = r"from_numpy\(|torch\.(tensor|as_tensor|asarray|Tensor)\(|DoubleTensor|\.double\(\)|" \
              r"torch\.float64"


def _float64_line(run: Run, error_line: int | None) -> int | None:
    """The line that made the float64 data: among the lines that make NumPy or float64 data
    (and do not convert to float32), the one whose result the model's input (or the failing
    line) is computed from, the line that makes a tensor of it first: the float32 weights' line
    and the NumPy array it reads are not where the conversion belongs."""
    code = {n: text.split("#", 1)[0] for n, text in facts.cell_lines(run)}
    candidates = [n for n, text in code.items()
                  if re.search(FLOAT64, text) and not re.search(FLOAT32, text)]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    used = {i.line for i in run.forward.inputs} | {error_line}
    feeding = set().union(*(facts.names_feeding(run, n) for n in used if n is not None))
    assigned = [n for n in candidates
                if (m := re.match(r"^\s*([\w\s,]+?)\s*=[^=]", run.cell_line(n)))
                and set(re.findall(r"\w+", m.group(1))) & feeding]
    tensors = [n for n in assigned if re.search(TENSOR_MADE, code[n])]
    return (tensors or assigned or candidates)[0]


def _not_reduced(run: Run, match: re.Match[str]) -> Detail:
    variable = facts.backward_variable(run, run.error.line if run.error else None)
    line = facts.line_matching(run, r"reduction\s*=\s*['\"]none")
    evidence = [Evidence(f"line {line} `{run.cell_line(line)}` asks for one loss per element")] \
        if line else []
    made = next((b for b in facts.backward_calls(run) if b.shape), None)
    if line is None and made is not None and made.made_line is not None:
        line = made.made_line
        evidence.append(Evidence(
            f"backward() was called on a {tuple(made.shape)} tensor made by {made.made_by} at "
            f"{facts.place(run, made.made_line)}: one value per sample, not their mean"))
        return (evidence, None, line, "Reduce the per-sample values to one number where they are "
                f"made (line {line}): return or compute their .mean() (or .sum()).")
    return evidence, f"{variable}.mean().backward()" if variable else None, \
        line or (run.error.line if run.error else None), None


def _non_leaf(run: Run, match: re.Match[str]) -> Detail:
    line = facts.line_matching(run, r"requires_grad\s*=\s*True\s*\)\s*(\*|/|\+|-|\.to\(|\.cuda\()")
    code = None
    if line is not None:
        text = run.cell_line(line)
        found = re.match(r"^(\w+\s*=\s*)(.*requires_grad\s*=\s*True\s*\).*)$", text)
        if found:
            expr = found.group(2).replace(", requires_grad=True", "").replace(
                "requires_grad=True", "")
            code = f"{found.group(1)}({expr}).requires_grad_()"
    evidence = [Evidence(f"line {line} `{run.cell_line(line)}` applies an operation after "
                         "requires_grad=True: the result is computed, not a leaf")] if line else []
    return evidence, code, line, None


def _multi_target(run: Run, match: re.Match[str]) -> Detail:
    text = run.cell_line(run.error.line if run.error else None)
    found = re.search(r"\(\s*[\w.()\[\]]+\s*,\s*(\w+)\s*\)", text)
    if not found:
        return [], None, None, None
    target = found.group(1)
    line = run.error.line if run.error else None
    made = facts.assignment_line(run, target, line)
    evidence = [Evidence(f"`{target}` is passed as the target at line {line}")]
    if made is not None:
        evidence.append(Evidence(f"line {made} `{run.cell_line(made)}` makes `{target}` with a "
                                 "column of labels"))
    return (evidence,
            f"{target} = {target}.squeeze(1)  # (N, 1) -> (N,): one class index per sample",
            made or line, None)


KNOWN = [
    Known("NBG901",
          r"element 0 of tensors does not require grad",
          "The tensor was computed without autograd history: under torch.no_grad(), after "
          ".detach(), from .item()/.numpy() values, or from parameters with requires_grad=False. "
          "There is nothing to differentiate.",
          "Compute the loss from the model's output with torch operations outside torch.no_grad(), "
          "and call backward() on it; take .item() only to print.",
          _not_connected),
    Known("NBG902",
          r"Trying to backward through the graph a second time",
          "After backward() autograd frees the graph it used. Something computed in an earlier "
          "iteration (typically an RNN's hidden state, or an output computed once before the "
          "loop) is still part of this iteration's loss, so backward() reaches into the old, freed "
          "graph.",
          "Compute everything the loss needs inside the loop, and detach a state carried from one "
          "iteration to the next (hidden = hidden.detach()). Do not use retain_graph=True to "
          "silence this: it makes each step backpropagate through all earlier ones.",
          _carried_state),
    Known("NBG903",
          r"modified by an inplace operation: (?P<what>\[[^\]]*\][^,]*)",
          "Autograd keeps some tensors from the forward pass to compute gradients. An in-place "
          "operation (x += ..., x[i] = ..., relu_(), inplace=True, or optimizer.step() between a "
          "forward pass and its backward()) changed one of them, so its gradient would be wrong.",
          "Use the out-of-place form (x = x + ..., torch.relu(x), inplace=False); in a GAN, call "
          "backward() before the other network's step().",
          _inplace),
    Known("NBG904",
          r"must have the same dtype|expected m1 and m2 to have the same dtype|"
          r"expected scalar type \w+ but found \w+|Found dtype \w+ but expected \w+|"
          r"expected target dtype to be Long|Expected floating point type for target|"
          r"Input type \(\w+\) and (weight|bias) type \(\w+\) should be the same",
          "Layers hold float32 weights; inputs made from NumPy are float64 (Double) and class "
          "labels are int64 (Long). Classification losses want Long class indices, regression "
          "losses and BCE want float targets.",
          "Convert at the boundary: inputs with x.float() (torch.from_numpy(a).float()); "
          "CrossEntropyLoss / NLLLoss targets with y.long(); MSELoss / BCELoss targets with "
          "y.float().",
          _dtypes),
    Known("NBG905",
          r"Expected all tensors to be on the same device|is not on the expected device|"
          r"Input type \([\w.]*cuda[\w.]*\) and weight type|and weight type \([\w.]*cuda",
          "An operation needs all its tensors on one device (CPU or one GPU). model.to(device) moves "
          "the weights, but each batch must be moved too, and tensors made inside the loop start on "
          "the CPU.",
          "Move the model once and every batch as it arrives: model.to(device); "
          "x, y = x.to(device), y.to(device); create new tensors with device=x.device."),
    Known("NBG906",
          r"mat1 and mat2 shapes cannot be multiplied \((?P<rows>\d+)x(?P<given>\d+) and "
          r"(?P<expected>\d+)x(?P<out>\d+)\)",
          "nn.Linear(in_features, out_features) multiplies each row of its input by its weight; "
          "the row length must equal in_features.",
          "Make the layer's in_features equal the input's feature count.",
          _shapes),
    Known("NBG907",
          r"can't optimize a non-leaf Tensor|"
          r"unsupported operand type\(s\) for [^:]+: 'NoneType'|"
          r"'NoneType' object has no attribute '(zero_|data|norm|add_|mul_)'",
          "torch.randn(..., requires_grad=True) * 0.01 (or .to(device) after requires_grad=True) "
          "is the result of an operation, not a leaf tensor: the optimizer can only update leaf "
          "tensors that own their values, and backward() does not store a gradient in a non-leaf's "
          ".grad, which stays None (so a hand-written update fails on it).",
          "Create the tensor first and then ask for gradients: "
          "w = (torch.randn(3, 1) * 0.01).requires_grad_(), or use nn.Parameter.",
          _non_leaf, needs_line="NoneType"),
    Known("NBG908",
          r"multi-target not supported|0D or 1D target tensor expected",
          "For class indices CrossEntropyLoss expects a 1-D tensor of N integers; a column (N, 1) "
          "looks like several targets per sample.",
          "Squeeze the extra dimension: y.squeeze(1) (or y.view(-1)).",
          _multi_target),
    Known("NBG909",
          r"'float' object has no attribute 'backward'",
          ".item() (or float()) turns the loss into a plain Python number, which has no gradient "
          "history and no backward().",
          "Call backward() on the loss tensor, and take .item() only to print or log it.",
          _not_connected),
    Known("NBG910",
          r"grad can be implicitly created only for scalar outputs",
          "backward() without arguments needs a single number. The loss was not reduced (e.g. "
          "reduction='none', or the model's output itself was used).",
          "Reduce the loss to one number before backward(): loss.mean().backward(), or a loss "
          "function with its default reduction='mean'.",
          _not_reduced),
]


def _first_sentence(message: str) -> str:
    """The message up to its first full stop (torch adds long hints after it)."""
    first = re.split(r"\. |\n", message, maxsplit=1)[0].strip()
    return first if len(first) <= 300 else first[:297] + "..."


def explain_error(run: Run) -> list[Diagnosis]:
    """NBG901-910: a plain-words explanation of the exception the cell raised."""
    error = run.error
    if error is None:
        return []
    text = f"{error.type}: {error.message}"
    for known in KNOWN:
        match = re.search(known.pattern, text)
        if match is None:
            continue
        if known.code == "NBG901" and run.params and not any(
                p.requires_grad for p in run.params.values()):
            return []  # every parameter frozen: NBG203 says it better
        evidence = [Evidence(f"line {error.line} raised {error.type}: {_first_sentence(error.message)}")]
        if run.steps:
            n = len(run.steps)
            evidence.append(Evidence(f"{n} step{'s' if n != 1 else ''} ran before the error",
                                     value=float(len(run.steps))))
        fix_code, line, fix = None, error.line, known.fix
        if known.detail is not None:
            extra, fix_code, fix_line, better = known.detail(run, match)
            if known.needs_line and re.search(known.needs_line, text) and fix_line is None:
                continue  # the message fits, but nothing in the cell shows this cause
            evidence += extra
            line = fix_line or line
            fix = better or fix
        return [make(known.code, title=CATALOGUE[known.code].about, evidence=evidence,
                     why=known.why, fix=fix, fix_code=fix_code, line=line, confidence=0.9)]
    return []


# -- an update by hand that fails because a weight's .grad is None: the weight is not a leaf --------
# a tensor that asks for gradients and is then changed by an operation on the same line
MADE_BY_AN_OPERATION = (r"requires_grad\s*=\s*True\s*\)\s*(\*|/|\+|-|@|\.to\(|\.cuda\(|\.double\(|"
                        r"\.float\()|requires_grad_\(\)\s*(\*|/|\+|-|@)")


def grad_is_none(run: Run) -> list[Diagnosis]:
    """NBG907: a TypeError on NoneType where the failing line reads `.grad` of a non-leaf tensor."""
    error = run.error
    if error is None or error.type != "TypeError" or "NoneType" not in error.message:
        return []
    for name in re.findall(r"([A-Za-z_]\w*)\.grad\b", run.cell_line(error.line)):
        made = [n for n in facts.assignments(run, name) if error.line is None or n < error.line]
        line = next((n for n in reversed(made) if re.search(MADE_BY_AN_OPERATION,
                                                               run.cell_line(n))), None)
        if line is None:
            continue
        text = run.cell_line(line)
        found = re.match(r"^(\w+\s*=\s*)(.*)$", text)
        code = None
        if found:
            expr = re.sub(r",\s*requires_grad\s*=\s*True|requires_grad\s*=\s*True\s*,?\s*", "",
                          found.group(2))
            code = f"{found.group(1)}({expr}).requires_grad_()"
        return [make(
            "NBG907", title=f"`{name}.grad` is None: `{name}` is the result of an operation, not a "
                            "tensor that asks for gradients",
            evidence=[Evidence(f"line {error.line} raised {error.type}: {error.message}"),
                      Evidence(f"line {line} `{text}` applies an operation after "
                               f"requires_grad=True, so `{name}` is not a leaf of the graph and "
                               "backward() never fills its .grad")],
            why=("backward() stores gradients only in leaf tensors, the ones created with "
                 "requires_grad=True. `torch.randn(..., requires_grad=True) / k` is a new tensor "
                 "computed from such a leaf: the leaf gets the gradient, and it is not the one the "
                 "cell keeps."),
            fix=f"Scale first, then ask for gradients (line {line}): "
                f"{code or name + ' = (...).requires_grad_()'}",
            fix_code=code, line=line, confidence=0.9)]
    return []


RULES = [explain_error, grad_is_none]

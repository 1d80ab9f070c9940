"""Which line of the cell sets weights by hand: where an initialisation found wrong is fixed.

The records decide that an initialisation is wrong (identical rows, a gain far from 1); the text
only says where it was written. When several lines initialise, the one that names a weight is
meant (zeros are right for biases), and when that is not one line, no line is claimed.
"""

from __future__ import annotations

import math
import re

from nbgrad.diagnose.facts.cell import cell_lines
from nbgrad.diagnose.facts.model import init_gain, weight_layers
from nbgrad.records import Run

__all__ = ["CONSTANT_INIT", "INIT_CALLS", "init_gains", "init_line"]

# calls that set a tensor's values in place, or make a tensor that asks for gradients
INIT_CALLS = (r"nn\.init\.\w+\(|\.(normal_|uniform_|fill_|constant_|copy_|zero_)\(|\.data\s*[*+-]?="
              r"|requires_grad_\(|requires_grad\s*=\s*True|nn\.Parameter\(")
# calls that make every entry the same
CONSTANT_INIT = r"(zeros_|ones_|constant_|\.fill_|\.zero_|torch\.(zeros|ones|full))\("
WEIGHT_WORDS = r"weight|\bW\w*|\bw\b|\bw\d"


def init_line(run: Run, pattern: str = INIT_CALLS) -> int | None:
    """The one code line matching `pattern`, or among several the one naming a weight."""
    hits = [(n, text.split("#", 1)[0]) for n, text in cell_lines(run)
            if re.search(pattern, text.split("#", 1)[0])]
    if len(hits) == 1:
        return hits[0][0]
    named = [n for n, code in hits if re.search(WEIGHT_WORDS, code)]
    return named[0] if len(named) == 1 else None


def init_gains(run: Run) -> dict[str, float]:
    """Weight name -> std * sqrt(fan_in) at the first step, for every weight matrix. A bare
    tensor's fan-in is not known (x @ w or w @ x), so its smaller side is used: a lower bound of
    its gain either way."""
    gains = {w.param: g for w in weight_layers(run) if (g := init_gain(run, w))}
    steps = run.steps or run.manual_steps  # tensors made by hand are often updated by hand
    first = steps[0] if steps else None
    for name, info in run.params.items():
        layer = run.layers.get(info.layer)
        if first is None or len(info.shape) != 2 or name not in first.params or \
                layer is None or layer.type != "Tensor" or min(info.shape) < 2:
            continue
        std = first.params[name].param_norm / math.sqrt(max(info.numel, 1))
        gains[name] = std * math.sqrt(min(info.shape))
    return gains

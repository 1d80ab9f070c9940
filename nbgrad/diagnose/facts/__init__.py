"""The one layer of facts that rules read: pure functions over the records.

Every rule imports this package and none imports another rule, so two rules never compute the
same thing differently (a step's loss, a loss trend, the line that builds the optimizer).

- series: per-optimizer steps, losses and trends, gradients, updates, learning rates
- model: weighted layers in forward order, gradients across them, init scale, activations
- batching: where the cell shuffles, builds loaders, fetches batches
- cell: which line of the cell does what, and how a line reads once fixed
- dataflow: where a value used on a line was made or prepared
- construction: where the cell builds a layer, where a loss input was made
- words: how evidence names things and numbers
- provenance: the graph cuts the loss went through, what backward() was called on
- source: the cell's syntax tree: the loops a line runs in, where a name is assigned
- divergence: whether values grew before a NaN, and the operations that can make one
- trend: whether a loss series falls (first third against last third)
- init: which line sets weights by hand
"""

from nbgrad.diagnose.facts.batching import *  # noqa: F403
from nbgrad.diagnose.facts.cell import *  # noqa: F403
from nbgrad.diagnose.facts.construction import *  # noqa: F403
from nbgrad.diagnose.facts.dataflow import *  # noqa: F403
from nbgrad.diagnose.facts.divergence import *  # noqa: F403
from nbgrad.diagnose.facts.init import *  # noqa: F403
from nbgrad.diagnose.facts.model import *  # noqa: F403
from nbgrad.diagnose.facts.provenance import *  # noqa: F403
from nbgrad.diagnose.facts.series import *  # noqa: F403
from nbgrad.diagnose.facts.source import *  # noqa: F403
from nbgrad.diagnose.facts.trend import *  # noqa: F403
from nbgrad.diagnose.facts.words import *  # noqa: F403

"""`%%gradcheck`: a thin adapter from the cell magic to `nbgrad.gradcheck`."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from nbgrad import api
from nbgrad.errors import NbgradUsageError
from nbgrad.render.progress import progress_bar


@magics_class
class GradcheckMagics(Magics):
    @magic_arguments()
    @argument("--steps", type=int, default=api.DEFAULT_STEPS,
              help="Optimizer steps to record before the loop is stopped (default: %(default)s).")
    @argument("--timeout", type=float, default=api.DEFAULT_TIMEOUT_S,
              help="Seconds to wait for the next optimizer step before stopping the cell "
                   "(default: %(default)s).")
    @cell_magic
    def gradcheck(self, line: str, cell: str) -> Any:
        """Run this training cell for a few optimizer steps and report why it (won't) learn.

        The cell runs unchanged in your namespace; the loop is stopped quietly after --steps
        optimizer steps. The report is displayed and returned (`_`, `nbgrad.last_report()`).
        """
        __tracebackhide__ = True
        args = parse_argstring(self.gradcheck, line)
        previous = api.last_report()
        try:
            with progress_bar(args.steps) as progress:
                return api.gradcheck(cell, steps=args.steps, timeout=args.timeout,
                                     namespace=self.shell.user_ns, first_line=2,
                                     progress=progress)
        except NbgradUsageError as error:
            raise UsageError(str(error)) from None
        except BaseException:
            if api.last_report() is not previous:
                display(api.last_report())
            raise


def load(ipython: Any) -> None:
    ipython.register_magics(GradcheckMagics)


def unload(ipython: Any) -> None:
    manager = ipython.magics_manager
    manager.magics["cell"].pop("gradcheck", None)
    manager.registry.pop("GradcheckMagics", None)

"""`%%gradcheck`: a thin adapter from the cell magic to `nbgrad.gradcheck`."""

from __future__ import annotations

import re
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from nbgrad import api
from nbgrad.capture import interrupts
from nbgrad.errors import NbgradUsageError, usage_message
from nbgrad.render.progress import progress_bar

OPTIONS = "--steps N, --timeout SECONDS, --keep"
EXAMPLE = "%%gradcheck --steps 10 --timeout 60"


@magics_class
class GradcheckMagics(Magics):
    @magic_arguments()
    @argument("--steps", type=int, default=api.DEFAULT_STEPS,
              help="Optimizer steps to record before the loop is stopped (default: %(default)s).")
    @argument("--timeout", type=float, default=api.DEFAULT_TIMEOUT_S,
              help="Seconds to wait for the next optimizer step before stopping the cell "
                   "(default: %(default)s).")
    @argument("--activations", action="store_true",
              help="Also record activation statistics on every step, not only the first and "
                   "last (slower).")
    @argument("--keep", action="store_true",
              help="Keep what the recorded steps changed (parameters, optimizer and scheduler "
                   "state, RNG) instead of restoring it.")
    @cell_magic
    def gradcheck(self, line: str, cell: str) -> Any:
        """Run this training cell for a few optimizer steps and report why it (won't) learn.

        The cell runs unchanged in your namespace; the loop is stopped quietly after --steps
        optimizer steps. The report is displayed and returned (`_`, `nbgrad.last_report()`).

        Afterwards the models, optimizers, LR schedulers and GradScalers that existed before the
        cell, and the torch / NumPy / `random` RNG states, are restored in place to exactly their
        state before it; names the cell (re)binds keep their new values, and objects the cell
        creates keep what the steps did to them. --keep leaves every change in place.
        """
        __tracebackhide__ = True
        args = _parse(self, line)
        filename = self.shell.compile.cache("\n" + cell, self.shell.execution_count)
        previous = api.last_report()
        try:
            with progress_bar(args.steps) as progress:
                return api.gradcheck(cell, steps=args.steps, timeout=args.timeout,
                                     namespace=self.shell.user_ns, first_line=2, keep=args.keep,
                                     filename=filename, activations=args.activations,
                                     progress=progress)
        except NbgradUsageError as error:
            raise UsageError(str(error)) from None
        except SyntaxError as error:  # the user's: shown like any cell's, without nbgrad's frames
            self.shell.showsyntaxerror()
            if self.shell.displayhook.exec_result is not None:
                self.shell.displayhook.exec_result.error_in_exec = error
            return None
        except BaseException:
            if api.last_report() is not previous:
                with interrupts.holding():  # a second Ctrl-C must not cut the report short
                    display(api.last_report())
            raise


def _parse(magics: GradcheckMagics, line: str) -> Any:
    """Arguments, or a UsageError that says what is wrong, how to fix it, and an example."""
    try:
        args = parse_argstring(magics.gradcheck, line)
    except UsageError as error:
        raise UsageError(_rewrite(str(error))) from None
    try:
        api._check_arguments(args.steps, args.timeout, magic=True)
    except NbgradUsageError as error:
        raise UsageError(str(error)) from None
    return args


def _rewrite(message: str) -> str:
    """argparse's messages, said in nbgrad's form."""
    bad_value = re.match(r"argument --(\w+): invalid (?:int|float) value: (.*)", message)
    if bad_value:
        option, got = bad_value.groups()
        what = "a whole number of optimizer steps" if option == "steps" else "a number of seconds"
        value = "10" if option == "steps" else "60"
        return usage_message(f"--{option} must be {what} (got {got}).",
                             f"write a number after --{option}.", f"%%gradcheck --{option} {value}")
    missing = re.match(r"argument --(\w+): expected one argument", message)
    if missing:
        option = missing.group(1)
        value = "10" if option == "steps" else "60"
        return usage_message(f"--{option} needs a value.", f"write a number after --{option}.",
                             f"%%gradcheck --{option} {value}")
    unknown = re.match(r"unrecognized arguments: (.*)", message)
    if unknown:
        return usage_message(f"%%gradcheck does not know {unknown.group(1)}.",
                             f"use only {OPTIONS} (see %%gradcheck? for what each does).",
                             EXAMPLE)
    return usage_message(f"%%gradcheck could not read its options: {message}.",
                         f"use only {OPTIONS} (see %%gradcheck? for what each does).", EXAMPLE)


def load(ipython: Any) -> None:
    ipython.register_magics(GradcheckMagics)


def unload(ipython: Any) -> None:
    manager = ipython.magics_manager
    manager.magics["cell"].pop("gradcheck", None)
    manager.registry.pop("GradcheckMagics", None)

"""`%%gradcheck`: a thin adapter from the cell magic to `nbgrad.gradcheck`.

The cell runs as IPython runs a cell without the magic: through IPython's own transformation (line
magics, `!shell`), its AST transformers, its compiler (which shares `__future__` imports between
cells) and its coroutine runner for top-level `await`. An error in the cell is shown as IPython
shows it without the magic: `Cell In[N]` with the cell's own line numbers, and no frame of nbgrad's.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import bdb
import inspect
import shlex
from collections.abc import Callable
from typing import Any

from IPython.core.error import InputRejected, UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display

from nbgrad import api, options
from nbgrad.capture import interrupts
from nbgrad.errors import NbgradUsageError, usage_message
from nbgrad.render.progress import progress_bar
from nbgrad.tracebacks import user_traceback

EXAMPLE = "%%gradcheck --steps 10 --timeout 60"
FIRST_LINE = 2  # the cell's code starts below the %%gradcheck line


def _with_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """IPython's `@argument` for every option the magic offers, so `%%gradcheck?` lists them."""
    for flag, keywords in reversed(options.argparse_arguments("magic")):
        func = argument(flag, **keywords)(func)
    func = magic_arguments()(func)
    func.parser.exit_on_error = False  # type: ignore[attr-defined]  # errors said by _parse
    return func


@magics_class
class GradcheckMagics(Magics):
    @_with_options
    @cell_magic
    def gradcheck(self, line: str, cell: str) -> Any:
        """Run this training cell for a few optimizer steps and report why it (won't) learn.

        The cell runs unchanged in your namespace; the loop is stopped quietly after --steps
        optimizer steps. The report is displayed and returned (`_`, `nbgrad.last_report()`).

        Afterwards the models, optimizers, LR schedulers and GradScalers that existed before the
        cell, and the torch / NumPy / `random` RNG states, are restored in place to exactly their
        state before it; names the cell (re)binds keep their new values, and objects the cell
        creates keep what the steps did to them. --keep leaves every change in place.

        Line magics, `!shell` and top-level `await` run as in any cell (`await` not in a Jupyter
        kernel, whose event loop already runs the cell); an error shows as the cell's own.
        """
        __tracebackhide__ = True
        values = _parse(line)
        shell = self.shell
        assert shell is not None  # a registered magic always has its shell
        try:
            filename, execute = _compile(shell, cell)
        except (SyntaxError, InputRejected) as error:  # the user's: shown as for any cell
            if not _shown_as_the_cells(self.shell, error, None):
                raise
            return None
        previous = api.last_report()
        try:
            with progress_bar(values["steps"]) as progress:
                return api.gradcheck(cell, **values, namespace=shell.user_ns,
                                     first_line=FIRST_LINE, filename=filename, progress=progress,
                                     execute=execute, recompile=lambda fixed: _compile(shell, fixed))
        except NbgradUsageError as error:
            raise UsageError(str(error)) from None
        except BaseException as error:
            if api.last_report() is not previous:
                with interrupts.holding():  # a second Ctrl-C must not cut the report short
                    display(api.last_report())
            if not _shown_as_the_cells(self.shell, error, filename):
                raise
            return None


def _parse(line: str) -> dict[str, Any]:
    """The options of the magic line, or a UsageError that says what is wrong, what to do, and
    an example."""
    try:
        words = shlex.split(line)
    except ValueError as error:  # an unclosed quote, a backslash at the end
        raise UsageError(usage_message(
            f"%%gradcheck could not read its options ({str(error).lower()}): {line.strip()}",
            "close the quote, or leave quotes out: the options are plain words and numbers.",
            EXAMPLE)) from None
    parser: argparse.ArgumentParser = GradcheckMagics.gradcheck.parser  # type: ignore[attr-defined]
    try:
        given, unknown = parser.parse_known_args(words)
    except argparse.ArgumentError as error:
        raise UsageError(_argument_error(error, words)) from None
    except UsageError as error:  # what argparse says itself (an ambiguous abbreviation)
        raise UsageError(usage_message(f"%%gradcheck could not read its options: {error}.",
                                       _use_only(), EXAMPLE)) from None
    if unknown:
        raise UsageError(usage_message(f"%%gradcheck does not know {' '.join(unknown)}.",
                                       _use_only(), EXAMPLE))
    try:
        return options.from_command_line("magic", vars(given))
    except NbgradUsageError as error:
        raise UsageError(str(error)) from None


def _argument_error(error: argparse.ArgumentError, words: list[str]) -> str:
    """A value missing after an option, or one given to a switch (`--keep=yes`)."""
    flag = error.argument_name or ""
    option = next((o for o in options.on("magic") if o.flag == flag), None)
    if option is None:
        return usage_message(f"%%gradcheck could not read its options: {error}.", _use_only(),
                             EXAMPLE)
    if option.is_switch:
        given = next((w.partition("=")[2] for w in words if w.startswith(flag + "=")), "")
        return options.switch_takes_no_value("magic", option.name, given)
    return options.needs_a_value("magic", option.name)


def _use_only() -> str:
    return f"use only {options.summary('magic')} (see %%gradcheck? for what each does)."


def _compile(shell: Any, cell: str) -> tuple[str, Callable[[], object]]:
    """The cell compiled as IPython compiles a cell, under the name IPython gives this one, and
    what runs it. Raises SyntaxError, UsageError (top-level await where it cannot run)."""
    source = shell.transform_cell(cell)
    # IPython drops a cell's leading blank lines; keep them, so that lines count as the user's do
    dropped = _blank_lines_before(cell) - _blank_lines_before(source)
    padded = "\n" * (FIRST_LINE - 1 + max(dropped, 0)) + source
    filename = shell.compile.cache(padded, _cell_number(shell))
    tree = shell.transform_ast(shell.compile.ast_parse(padded, filename=filename))
    flags = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0) if shell.autoawait else 0
    with shell.compile.extra_flags(flags):
        code = shell.compile(tree, filename, "exec")
    ns, global_ns = shell.user_ns, shell.user_global_ns
    if not code.co_flags & inspect.CO_COROUTINE:
        return filename, lambda: exec(code, global_ns, ns)
    if shell.trio_runner is not None or _loop_running():
        raise UsageError(usage_message(
            "%%gradcheck cannot run top-level `await` here: this kernel's event loop is already "
            "running the cell, and nbgrad runs the cell to its end inside it.",
            "await what the loop needs in a cell before (data = await fetch()), then check the "
            "loop; or check the script with `nbgrad check`.", "nbgrad check train.py --steps 10"))
    runner = shell.loop_runner

    def run_awaiting() -> object:
        coroutine = eval(code, global_ns, ns)
        try:
            return runner(coroutine)
        finally:  # a stop that landed in the event loop, not in the cell, leaves no rest of the
            coroutine.close()  # cell pending, to run on in a later cell's loop
    return filename, run_awaiting


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _blank_lines_before(text: str) -> int:
    lines = text.splitlines()
    return next((i for i, line in enumerate(lines) if line.strip()), len(lines))


def _cell_number(shell: Any) -> int:
    """The number IPython names the running cell with (`In[N]`). IPython 9 counts the cell in
    `execution_count` before running it; the cell's own number is kept on its result."""
    result = shell.displayhook.exec_result
    if result is not None and result.execution_count is not None:
        return int(result.execution_count)
    return int(shell.execution_count)


def _shown_as_the_cells(shell: Any, error: BaseException, filename: str | None) -> bool:
    """Show the user's error as IPython shows a cell's error without the magic, when this magic
    is the cell being run. False otherwise (a magic called from code, an exception IPython
    handles its own way): the caller lets it propagate unchanged."""
    result = shell.displayhook.exec_result
    is_the_cell = result is not None and result.info.raw_cell.lstrip().startswith("%%gradcheck")
    own_handling = (SystemExit, bdb.BdbQuit, *shell.custom_exceptions)
    if not is_the_cell or isinstance(error, own_handling):
        return False
    tb = error.__traceback__ if filename is None else user_traceback(error.__traceback__, filename)
    shell.showtraceback((type(error), error, tb))  # a SyntaxError goes to showsyntaxerror()
    result.error_in_exec = error

    def mark_failed() -> None:  # IPython counts a cell that raised nothing as succeeded
        shell.last_execution_succeeded = False  # (`ipython -c` exits 1 on a failed cell)
        shell.events.unregister("post_execute", mark_failed)

    shell.events.register("post_execute", mark_failed)
    return True


def load(ipython: Any) -> None:
    ipython.register_magics(GradcheckMagics)


def unload(ipython: Any) -> None:
    manager = ipython.magics_manager
    manager.magics["cell"].pop("gradcheck", None)
    manager.registry.pop("GradcheckMagics", None)

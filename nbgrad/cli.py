"""`nbgrad check train.py`: run a training script for a few instrumented steps, outside a notebook.

    nbgrad check train.py [--steps N] [--timeout SECONDS] [--activations] [--verify]
                          [--json out.json] [--html out.html] [--nproc-per-node N] [-- ARGS]
    nbgrad show out.json [--html out.html]

The script runs as `__main__` with `sys.argv` set to it and ARGS, under the same instrumentation as
`%%gradcheck`; its loop is stopped after N optimizer steps and the text report is printed. Exit status,
so that a CI pipeline can be gated on it: 0 when no error-level diagnosis was found, 1 when one was (or
the script raised, or nbgrad could not analyse the run), 2 for a wrong command line, an unreadable
file or a report path that cannot be written (found before the script runs), 130 when interrupted.

With `--nproc-per-node N` the script runs on N processes under `torch.distributed.run` (the engine
of `torchrun`), each under the check, and their reports are merged into one (nbgrad/distributed).
"""

from __future__ import annotations

import argparse
import builtins
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import CodeType
from typing import Any, NoReturn, TextIO

import nbgrad
from nbgrad import api, options
from nbgrad.errors import NbgradUsageError, usage_message
from nbgrad.report import Report
from nbgrad.tracebacks import user_traceback
from nbgrad.verify import trials as verify_trials

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
CHECK_EXAMPLE = "nbgrad check train.py --steps 10 --json report.json -- --lr 0.1"
SHOW_EXAMPLE = "nbgrad show report.json --html report.html"


class UsageError(Exception):
    """A wrong command line: printed as problem / To fix it / Example, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        example = SHOW_EXAMPLE if self.prog.endswith(" show") else CHECK_EXAMPLE
        raise UsageError(usage_message(
            f"{self.prog}: {message}.",
            "see `nbgrad check --help`; the script's own arguments go after `--`.", example))


def build_parser() -> Parser:
    parser = Parser(prog="nbgrad", description="Run a PyTorch training script for a few instrumented "
                    "optimizer steps and report why it (won't) learn.")
    parser.add_argument("--version", action="version", version=f"nbgrad {nbgrad.__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=Parser)
    check = commands.add_parser("check", help="run a training script and report on its first steps",
                                description="Run SCRIPT as __main__ for --steps optimizer steps, print "
                                "the report; exit 1 when an error-level problem was found.")
    check.add_argument("script", help="The training script (its own arguments go after --).")
    for flag, keywords in options.argparse_arguments("cli"):
        check.add_argument(flag, **keywords)
    check.add_argument("--json", metavar="PATH", help="Also save the report as JSON (for `nbgrad show`).")
    check.add_argument("--html", metavar="PATH", help="Also save the report as an HTML page.")
    show = commands.add_parser("show", help="print a report saved with --json",
                               description="Print a report saved by `nbgrad check --json` (or "
                               "Report.to_json()), optionally as an HTML page too.")
    show.add_argument("report", help="The JSON file.")
    show.add_argument("--html", metavar="PATH", help="Also write the report as an HTML page.")
    return parser


class _Progress:
    """`nbgrad: step 3/10` on stderr: rewritten in place on a terminal, one line each in a log;
    with --verify, a line for each trial ("trying the fix of NBG301 (1 of 2)")."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.end = "\r" if stream.isatty() else "\n"

    def __call__(self, done: int, total: int) -> None:
        print(f"nbgrad: step {done}/{total}", end=self.end, file=self.stream, flush=True)

    def stage(self, doing: str) -> None:
        if self.stream.isatty():
            print(file=self.stream)
        print(f"nbgrad: {doing}", file=self.stream, flush=True)


def _progress(stream: TextIO) -> api.Progress:
    return _Progress(stream)


def run_script(path: Path, script_args: Sequence[str], *, steps: int, timeout: float | None,
               activations: bool = False, verify: bool = False,
               progress: api.Progress | None = None) -> tuple[Report, BaseException | None]:
    """Run a script as `__main__` under a Check; returns its report and the script's own exception."""
    filename = str(path.resolve())
    source = path.read_text(encoding="utf-8")
    code = compile(source, filename, "exec")
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": filename, "__doc__": None,
                                 "__package__": None, "__spec__": None, "__builtins__": builtins}
    check = api.Check(steps=steps, timeout=timeout, filename=filename, source=source, first_line=1,
                      progress=progress, activations=activations)
    check.namespace = namespace

    def compile_script(fixed: str) -> tuple[str, Callable[[], object]]:
        """A corrected copy of the script, run as the script was (a fix's trial)."""
        fixed_code = compile(fixed, filename, "exec")
        return filename, lambda: _run_main(fixed_code, namespace)

    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(path), *script_args]
    sys.path.insert(0, str(path.resolve().parent))
    error: BaseException | None = None
    try:
        with verify_trials(check, compile_script, verify=verify, progress=progress), check:
            _run_main(code, namespace)
    except BaseException as raised:  # the script's own exception; nbgrad's StopRun never gets here
        error = raised
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    assert check.report is not None
    return check.report, error


def _run_main(code: CodeType, namespace: dict[str, Any]) -> None:
    try:
        exec(code, namespace)
    except SystemExit as done:
        if done.code not in (None, 0):
            raise  # a failing exit is the script's error; sys.exit(0) is a normal end


def html_page(report: Report) -> str:
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>nbgrad report</title></head>"
            f"<body>\n{report.to_html()}\n</body></html>\n")


def _unwritable(path: str) -> str | None:
    """Why `path` cannot be written (None when it can), found before a long run, not after it."""
    target = Path(path)
    folder = target.absolute().parent
    if target.is_dir():
        return "it is a folder"
    if not folder.is_dir():
        return f"there is no folder {str(folder)!r}"
    if target.exists():
        return None if os.access(target, os.W_OK) else "the file is read-only"
    return None if os.access(folder, os.W_OK | os.X_OK) else f"the folder {str(folder)!r} is read-only"


def _check_outputs(command: str, args: argparse.Namespace, example: str) -> None:
    for flag in ("json", "html"):
        path = getattr(args, flag, None)
        reason = path and _unwritable(path)
        if reason:
            raise UsageError(usage_message(f"nbgrad {command}: cannot write --{flag} {path} ({reason}).",
                                           f"pass a path in a folder you can write to after --{flag}.",
                                           example))


def _write(path: str, text: str) -> None:
    """Write a report file; an error of the file system (full disk) is said, not a traceback."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(usage_message(f"nbgrad: could not write {path} ({error.strerror}).",
                                       "free space or pass another path; the text report above "
                                       "is complete.", CHECK_EXAMPLE)) from None


def _print_user_traceback(error: BaseException, filename: str) -> None:
    """The traceback as Python would print it for the script: from the script's first frame on,
    without nbgrad's frames."""
    tb = user_traceback(error.__traceback__, filename)
    traceback.print_exception(type(error), error, tb, file=sys.stderr)


def exit_status(report: Report, error: BaseException | None) -> int:
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if error is not None or report.analysis_error:
        return EXIT_PROBLEM
    return EXIT_PROBLEM if any(d.severity == "error" for d in report.diagnoses) else EXIT_OK


def _check(args: argparse.Namespace, script_args: list[str]) -> int:
    path = Path(args.script)
    if not path.is_file():
        raise UsageError(usage_message(f"nbgrad check: there is no file {args.script!r}.",
                                       "pass the path of the Python script that trains.",
                                       CHECK_EXAMPLE))
    try:
        values = options.from_command_line("cli", vars(args))
    except NbgradUsageError as wrong:
        raise UsageError(str(wrong)) from None
    _check_outputs("check", args, CHECK_EXAMPLE)
    nproc = values.pop("nproc_per_node")
    if nproc:
        if values.pop("verify", False):
            raise UsageError(usage_message(
                "--verify and --nproc-per-node cannot be used together: trying a fix re-runs the "
                "script from its state before the run, which nbgrad can do in one process only.",
                "check on several processes without --verify, then try the fixes on one process.",
                f"nbgrad check {args.script} --verify"))
        return _check_ranks(args, path, script_args, nproc, values)
    print(f"nbgrad: running {args.script} for up to {values['steps']} optimizer steps",
          file=sys.stderr)
    report, error = run_script(path, script_args, **values, progress=_progress(sys.stderr))
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if error is not None and not isinstance(error, KeyboardInterrupt):
        _print_user_traceback(error, str(path.resolve()))
    sys.stdout.write(report.to_text())
    if args.json:
        _write(args.json, report.to_json(indent=1))
    if args.html:
        _write(args.html, html_page(report))
    return exit_status(report, error)


def _check_ranks(args: argparse.Namespace, path: Path, script_args: list[str], nproc: int,
                 values: dict[str, Any]) -> int:
    """`--nproc-per-node N`: the script on N ranks under torchrun's engine, one merged report.
    Each rank prints its own traceback; the exit status is as for one process."""
    from nbgrad.distributed.launch import run_ranks

    try:  # a script that does not compile is said once, here, not by every rank
        compile(path.read_text(encoding="utf-8"), str(path.resolve()), "exec")
    except SyntaxError as error:
        traceback.print_exception(type(error), error, None, file=sys.stderr)
        return EXIT_PROBLEM
    print(f"nbgrad: running {args.script} on {nproc} processes (torch.distributed.run) for up to "
          f"{values['steps']} optimizer steps", file=sys.stderr)
    outcome = run_ranks(path, script_args, nproc=nproc, **values)
    report = outcome.report
    sys.stdout.write(report.to_text())
    if args.json:
        _write(args.json, report.to_json(indent=1))
    if args.html:
        _write(args.html, html_page(report))
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    raised = report.run.error is not None or any(r.error is not None or not r.reported
                                                 for r in report.run.ranks)
    return EXIT_PROBLEM if raised else exit_status(report, None)


def _show(args: argparse.Namespace) -> int:
    _check_outputs("show", args, SHOW_EXAMPLE)
    try:
        text = Path(args.report).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(usage_message(f"nbgrad show: cannot read {args.report!r} ({error.strerror}).",
                                       "pass a report saved by `nbgrad check --json PATH`.",
                                       SHOW_EXAMPLE)) from None
    try:
        report = Report.from_json(text)
    except (ValueError, KeyError, TypeError) as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else f"{type(error).__name__}: {error}"
        raise UsageError(usage_message(f"nbgrad show: {args.report!r} is not an nbgrad report ({reason}).",
                                       "pass a file written by `nbgrad check --json` or "
                                       "`report.to_json()`.", SHOW_EXAMPLE)) from None
    sys.stdout.write(report.to_text())
    if args.html:
        _write(args.html, html_page(report))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """The `nbgrad` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1:]
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError(usage_message("nbgrad: no command given.",
                                           "run `nbgrad check SCRIPT` to check a training script, or "
                                           "`nbgrad show REPORT.json` to print a saved report.",
                                           CHECK_EXAMPLE))
        if script_args and args.command != "check":
            raise UsageError(usage_message("nbgrad show: takes no arguments after `--`.",
                                           "only `nbgrad check` passes arguments on to a script.",
                                           SHOW_EXAMPLE))
        return _check(args, script_args) if args.command == "check" else _show(args)
    except UsageError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover - `python -m nbgrad.cli`
    raise SystemExit(main())

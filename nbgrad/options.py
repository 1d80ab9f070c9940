"""The options of a run, each declared once.

`%%gradcheck`'s flags (and so its `%%gradcheck?` help), `nbgrad check`'s flags and the keyword
arguments of `nbgrad.gradcheck()` / `nbgrad.capture()` are generated from `OPTIONS` and checked by
the same code, so the three entry points cannot drift apart. A new option is one `Option(...)`
below; what it does is still up to the code that reads it.

Each entry point says a wrong value in its own words ("--steps" on a command line, "steps" in
Python) with an example of its own, always as problem / To fix it / Example (`errors.usage_message`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nbgrad.errors import NbgradUsageError, usage_message

Surface = Literal["magic", "cli", "api"]
ALL: frozenset[Surface] = frozenset(("magic", "cli", "api"))


@dataclass(frozen=True)
class Option:
    """One option: a switch (`kind is bool`) or a value read from a word of the command line."""

    name: str  # the Python keyword; on a command line `--name`, with dashes for underscores
    kind: type  # bool (a switch), int or float
    default: Any
    help: str  # one sentence, shown by `%%gradcheck?` and `nbgrad check --help`
    must: str  # what a value must be: "{subject} must be {must} (got ...)"
    fix: str  # what to do about a wrong value; "{default}" is filled in
    accepts: Callable[[Any], bool]  # whether a Python value of the right kind is allowed
    example: str = "True"  # a good value, written as on a command line (and valid Python)
    metavar: str = ""
    surfaces: frozenset[Surface] = ALL

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def is_switch(self) -> bool:
        return self.kind is bool

    def shown_default(self) -> str:
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)


def _is_whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


OPTIONS: tuple[Option, ...] = (
    Option("steps", int, 10, metavar="N", example="10",
           help="Optimizer steps to record before the loop is stopped.",
           must="a whole number of optimizer steps, at least 1",
           fix="pass how many optimizer steps to record; {default} is the default.",
           accepts=lambda v: _is_whole(v) and v >= 1),
    # inf is refused, not read as "no timeout": every run must end, and a value that never fires
    # would break that promise silently (Python's timeout=None says "no timeout" on purpose)
    Option("timeout", float, 60.0, metavar="SECONDS", example="60",
           help="Seconds to wait for the next optimizer step before the run is stopped.",
           must="a finite number of seconds above 0",
           fix="pass how long to wait for an optimizer step before the run is stopped "
               "({default} is the default; a model that is slow to start may need 600).",
           accepts=lambda v: v is None or (_is_real(v) and math.isfinite(v) and v > 0)),
    Option("activations", bool, False,
           help="Also record activation statistics on every step, not only the first and "
                "last (slower).",
           must="True or False",
           fix="pass activations=True to record activations on every step, False for the "
               "first and last only.",
           accepts=_is_bool),
    Option("verify", bool, False,
           help="After the report, try each fix that is code: run the corrected cell from the "
                "state before the cell for the same steps, and report whether the problem is "
                "gone and the loss falls (each fix alone, then all together).",
           must="True or False",
           fix="pass verify=True to try the fixes, False to only diagnose.",
           accepts=_is_bool),
    Option("keep", bool, False,
           help="Keep what the recorded steps changed (parameters, optimizer and scheduler "
                "state, RNG) instead of restoring it.",
           must="True or False",
           fix="pass keep=True to leave the changes of the recorded steps, False to restore.",
           accepts=_is_bool, surfaces=frozenset(("magic", "api"))),
    Option("nproc_per_node", int, 0, metavar="N", example="2",
           help="Run the script on N processes under torch.distributed.run (what torchrun "
                "runs), each rank checked, their reports merged (0: in this process).",
           must="a whole number of processes, 0 or more",
           fix="pass how many processes to start on this machine (one per GPU; 2 on a CPU), or "
               "leave it out to run the script in this process.",
           accepts=lambda v: _is_whole(v) and v >= 0, surfaces=frozenset(("cli",))),
)

DEFAULTS: dict[str, Any] = {option.name: option.default for option in OPTIONS}


def named(name: str) -> Option:
    return next(option for option in OPTIONS if option.name == name)


def on(surface: Surface) -> list[Option]:
    """The options an entry point offers, in declaration order."""
    return [option for option in OPTIONS if surface in option.surfaces]


def summary(surface: Surface) -> str:
    """`--steps N, --timeout SECONDS, --activations, --keep`: for messages that list them all."""
    return ", ".join(o.flag if o.is_switch else f"{o.flag} {o.metavar}" for o in on(surface))


def argparse_arguments(surface: Surface) -> list[tuple[str, dict[str, Any]]]:
    """`(flag, keywords)` for `add_argument` (the CLI) or IPython's `@argument` (the magic).

    Values stay text (default None: not given) so that `from_command_line` reads and checks them
    with nbgrad's own messages, not argparse's."""
    arguments: list[tuple[str, dict[str, Any]]] = []
    for option in on(surface):
        if option.is_switch:
            arguments.append((option.flag, {"action": "store_true", "help": option.help}))
        else:
            help_text = f"{option.help[:-1]} (default: {option.shown_default()})."
            arguments.append((option.flag, {"metavar": option.metavar, "default": None,
                                            "help": help_text}))
    return arguments


def from_command_line(surface: Surface, given: Mapping[str, Any]) -> dict[str, Any]:
    """The values of parsed command-line words (text, None when not given; switches True/False),
    read and checked; a wrong one raises NbgradUsageError in the form of `surface`."""
    values = {}
    for option in on(surface):
        word = given.get(option.name)
        if word is None or option.is_switch:
            values[option.name] = option.default if word is None else bool(word)
            continue
        value = _read(option, word)
        if value is None or not option.accepts(value):
            raise NbgradUsageError(_message(option, surface, _shown_word(word)))
        values[option.name] = value
    return values


def check_api(**values: Any) -> None:
    """Raise NbgradUsageError (said for Python) for the first keyword argument that is wrong."""
    for name, value in values.items():
        option = named(name)
        if not option.accepts(value):
            raise NbgradUsageError(_message(option, "api", repr(value)))


def switch_takes_no_value(surface: Surface, name: str, word: str) -> str:
    """The message for `--keep=yes`: a switch is on when written, off when left out."""
    option = named(name)
    return usage_message(f"{_subject(option, surface)} takes no value (got {_shown_word(word)}).",
                         f"write {option.flag} alone to turn it on, or leave it out.",
                         _example(option, surface))


def needs_a_value(surface: Surface, name: str) -> str:
    """The message for `--steps` written without its value."""
    option = named(name)
    what = "a number" if option.kind in (int, float) else "a value"
    return usage_message(f"{_subject(option, surface)} needs a value.",
                         f"write {what} after {option.flag}.", _example(option, surface))


def _read(option: Option, word: str) -> Any:
    """A command-line word as the option's kind; None when it is not one."""
    try:
        return option.kind(word)
    except (TypeError, ValueError):
        return None


def _shown_word(word: str) -> str:
    """A word as the user typed it; quoted when blanks would hide it."""
    return word if word and word.strip() == word else repr(word)


def _subject(option: Option, surface: Surface) -> str:
    prefix = "nbgrad check: " if surface == "cli" else ""
    return prefix + (option.name if surface == "api" else option.flag)


def _example(option: Option, surface: Surface) -> str:
    if surface == "api":
        return f"nbgrad.gradcheck(cell, {option.name}={option.example})"
    words = option.flag if option.is_switch else f"{option.flag} {option.example}"
    return f"%%gradcheck {words}" if surface == "magic" else f"nbgrad check train.py {words}"


def _message(option: Option, surface: Surface, got: str) -> str:
    return usage_message(f"{_subject(option, surface)} must be {option.must} (got {got}).",
                         option.fix.format(default=option.shown_default()),
                         _example(option, surface))

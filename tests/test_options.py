"""Each option is declared once (nbgrad/options.py): the magic's flags and `%%gradcheck?` help, the
CLI's flags and `--help`, and the API's keyword arguments and their checks all come from it."""

from __future__ import annotations

import inspect
import re

import pytest

import nbgrad
from nbgrad import options
from nbgrad.cli import build_parser, main
from nbgrad.errors import NbgradUsageError


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_magic_help_lists_every_magic_option_with_its_help(shell):
    shown = _one_line(shell.find_cell_magic("gradcheck").__doc__)
    assert shown.startswith("::")  # IPython's generated usage, as `%%gradcheck?` prints it
    for option in options.on("magic"):
        words = option.flag if option.is_switch else f"{option.flag} {option.metavar}"
        assert f"[{words}]" in shown and _one_line(option.help[:-1]) in shown
    assert "--activations" in shown and "(default: 10)" in shown and "(default: 60)" in shown


def test_cli_help_lists_every_cli_option_and_not_keep(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["check", "--help"])
    shown = _one_line(capsys.readouterr().out)
    for option in options.on("cli"):
        assert option.flag in shown and _one_line(option.help[:-1]) in shown
    assert "--keep" not in shown  # a script's process ends: nothing of it is left to restore


def test_api_defaults_are_the_declared_ones():
    parameters = inspect.signature(nbgrad.gradcheck).parameters
    assert {o.name: parameters[o.name].default for o in options.on("api")} == \
        {o.name: options.DEFAULTS[o.name] for o in options.on("api")}


def test_a_new_option_is_one_declaration(monkeypatch, capsys):
    quiz = options.Option("quiz_level", int, 1, metavar="LEVEL", example="2",
                          help="How many questions to ask before the report.",
                          must="a whole number from 0 to 3", fix="pass 0 for no questions.",
                          accepts=lambda v: isinstance(v, int) and 0 <= v <= 3)
    monkeypatch.setattr(options, "OPTIONS", (*options.OPTIONS, quiz))
    assert options.summary("cli") == ("--steps N, --timeout SECONDS, --activations, --verify, "
                                      "--nproc-per-node N, --quiz-level LEVEL")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["check", "--help"])
    assert "--quiz-level LEVEL How many questions to ask before the report (default: 1)." in \
        _one_line(capsys.readouterr().out)
    given = vars(build_parser().parse_args(["check", "t.py", "--quiz-level", "3"]))
    assert options.from_command_line("cli", given)["quiz_level"] == 3
    assert main(["check", __file__, "--quiz-level", "9"]) == 2
    assert capsys.readouterr().err == (
        "nbgrad check: --quiz-level must be a whole number from 0 to 3 (got 9).\n"
        "To fix it: pass 0 for no questions.\nExample: nbgrad check train.py --quiz-level 2\n")
    with pytest.raises(NbgradUsageError) as info:
        options.check_api(quiz_level=-1)
    assert str(info.value) == ("quiz_level must be a whole number from 0 to 3 (got -1).\n"
                               "To fix it: pass 0 for no questions.\n"
                               "Example: nbgrad.gradcheck(cell, quiz_level=2)")


@pytest.mark.parametrize("entry", ["gradcheck", "capture"])
def test_capture_and_gradcheck_check_their_arguments_alike(entry):
    call = {"gradcheck": lambda **kw: nbgrad.gradcheck("x = 1", namespace={}, **kw),
            "capture": lambda **kw: nbgrad.capture(**kw)}[entry]
    for wrong in ({"steps": True}, {"timeout": float("inf")}, {"keep": None},
                  {"activations": "yes"}):
        with pytest.raises(NbgradUsageError) as info:
            call(**wrong)
        (name, value), = wrong.items()
        assert str(info.value).startswith(f"{name} must be ") and f"(got {value!r})." in str(info.value)

"""Shared fixtures: a real IPython shell, one torch thread, and a check that nbgrad left no trace."""

from __future__ import annotations

import itertools
import os
import re
import signal
import warnings

import pytest
import torch
from torch import nn

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)


def _torch_globals() -> dict[str, object]:

    from torch.nn.modules import module as module_mod
    from torch.optim import optimizer as optimizer_mod

    return {
        "backward": torch.autograd.backward,
        "opt_zero_grad": torch.optim.Optimizer.__dict__["zero_grad"],
        "module_zero_grad": nn.Module.__dict__["zero_grad"],
        "clip_grad_norm_": torch.nn.utils.__dict__["clip_grad_norm_"],
        "clip_grad.clip_grad_norm_": torch.nn.utils.clip_grad.__dict__["clip_grad_norm_"],
        "pre_hooks": len(optimizer_mod._global_optimizer_pre_hooks),
        "post_hooks": len(optimizer_mod._global_optimizer_post_hooks),
        "forward_hooks": len(module_mod._global_forward_hooks),
        "forward_pre_hooks": len(module_mod._global_forward_pre_hooks),
        "backward_hooks": len(module_mod._global_backward_hooks),
        "scaler_step": torch.amp.GradScaler.__dict__["step"],
        # the snapshot's: saves redirected, objects made during the check noticed
        "saves": [torch.__dict__["save"], torch.__dict__["load"], torch.serialization.save],
        "births": [owner.__dict__[m] for owner in (nn.Module, torch.optim.Optimizer)
                   for m in ("__init__", "__setstate__")]
        + [nn.Module.__dict__.get("___needs_generation_tag_patch")],  # torch.compile's mark
        "scaler_scale": torch.amp.GradScaler.__dict__["scale"],
        "nbgrad_warning_filters": [f for f in warnings.filters
                                   if f[1] is not None and "global hooks" in f[1].pattern],
        "function_modes": torch._C._len_torch_function_stack(),  # the probe's TorchFunctionMode
        "show_warning": warnings._showwarnmsg,  # swapped by the probe around each torch call
    }


@pytest.fixture(autouse=True)
def no_trace_left():
    """Every test: torch's global hooks and patched functions, the trace and profile functions
    are as before once it ends, no thread of nbgrad's is left, and the process-wide modes a
    cell's `with` blocks set (grad mode, autocast, anomaly detection) are back to their defaults."""
    import sys
    import threading

    before = _torch_globals()
    trace, profile = sys.gettrace(), sys.getprofile()
    yield
    from nbgrad.capture.session import active_session

    assert _torch_globals() == before
    assert active_session() is None
    assert (sys.gettrace(), sys.getprofile()) == (trace, profile)
    assert [t.name for t in threading.enumerate() if t.name.startswith("nbgrad")] == []
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    assert not torch.is_autocast_enabled("cpu") and not torch.is_anomaly_enabled()


@pytest.fixture
def shell():
    """A real InteractiveShell with nbgrad loaded; cell errors are raised, not printed."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.user_ns.clear()  # a fresh namespace: nothing left by another test's magic run (`check`)
    ip.init_user_ns()
    ip.run_line_magic("load_ext", "nbgrad")
    ip.user_ns.update({"torch": torch, "nn": nn})
    yield ip
    ip.run_line_magic("unload_ext", "nbgrad")
    ip.user_ns.clear()
    ip.init_user_ns()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Ctrl-C must reach Python as in a terminal or a kernel: a suite started in the background
    by a non-interactive shell (`cmd > log &`) inherits SIGINT ignored, and then neither the
    tests' simulated Ctrl-C nor a subprocess's SIGINT would do anything."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


from tests.entry import check  # noqa: E402, F401 - the fixture that runs both entry points

# Two lanes. The fast lane, `pytest -m "not slow"` (the README's "Run the tests"), takes under a
# minute on 2 cores and guards what breaks most often: the restore and the no-trace check, the
# options, the catalogue and glossary, a handful of zoo loops (the correct ones must stay clean),
# the golden reports and every renderer. The slow lane is everything below; CI runs both lanes.

# Whole modules of the slow lane, and why. `pytest -m "not slow"` does not even import them.
SLOW_MODULES = {
    "test_browser": "drives JupyterLab in Chromium",
    "test_browser_classroom": "drives JupyterLab in Chromium",
    "test_notebooks": "executes notebooks in kernels",
    "test_frameworks": "imports and runs Lightning, Transformers, accelerate",
    "test_benchmark": "times workloads in subprocesses",
    "test_every_run_ends": "waits on real timeouts and signals",
    "test_adversarial": "generates hundreds of models and loops (hypothesis)",
    "test_stop_property": "lands the stop at hundreds of places in a loop (hypothesis, 20 s)",
    "test_cli": "runs nbgrad's command line in subprocesses",
    "test_distributed": "starts torchrun jobs of several Python processes",
    "test_compile": "imports torch._dynamo and compiles a model",
    "test_stop_kernel": "starts a kernel and interrupts it",
    "test_gallery": "imports nbformat, whose schema check builds an IRI grammar on import (1.5 s)",
}
# Single tests of the slow lane (every parameter of one), by module and name, and why.
SLOW_TESTS = {
    "test_styles::test_compiled_model_is_recorded_under_its_own_layer_names": "torch.compile",
    "test_styles::test_compiled_model_with_the_default_inductor_backend": "torch.compile, inductor",
    "test_probe::test_a_compiled_model_trains_under_the_probe": "torch.compile",
    "test_render_static::test_terminal_ipython_prints_the_text_report": "starts a terminal IPython",
    "test_render_static::test_figures_leave_pyplot_and_rcparams_alone": "starts a fresh Python",
    "test_ranks::test_a_rank_that_cannot_be_stopped_leaves_a_stuck_note": "waits 12 s in a call",
    "test_memory::test_probe_windows_and_step_copies_add_at_most_the_parameter_bytes_to_a_gpt2_like_model":
        "measures the peak memory of a GPT-2-like model, plain and checked (15 s)",
    "test_memory::test_a_model_that_trains_within_an_address_space_cap_is_checked_without_update_copies":
        "a subprocess under an address-space cap (10 s)",
    "test_memory::test_a_snapshot_that_does_not_fit_under_the_cap_is_refused_before_the_cell_runs":
        "a subprocess under an address-space cap (10 s)",
    "test_diagnosis_corpus::test_the_quick_subset_runs_through_the_scorer":
        "runs the corpus's quick subset through the scorer (15 s)",
    "test_diagnosis_corpus::test_a_sample_of_fixes_trains_clearly_better": "trains two corpus fixes (13 s)",
    "test_diagnosis_corpus::test_a_case_that_kills_its_process_does_not_stop_the_run":
        "a case that ends its own process, run by the scorer (9 s)",
    "test_diagnosis_controls::test_quick_control_trains_and_comes_out_clean":
        "each control in a subprocess (3-7 s each)",
    "test_diagnosis_controls::test_a_stop_inside_a_with_block_leaves_the_process_as_it_was":
        "starts a fresh Python (3 s)",
    "test_diagnosis_controls::test_a_crashing_case_is_reported_and_the_batch_goes_on":
        "a case that crashes its subprocess",
    "test_stop_unwinds::test_capture_block_in_a_script": "runs a script in a fresh Python (9 s)",
    "test_stop_unwinds::test_a_loop_that_swallows_the_stop_in_an_imported_module_ends_under_nbgrad_check":
        "runs `nbgrad check` in a fresh Python (7 s)",
    "test_restore_cell_changes::test_lightning_and_safetensors_checkpoints_do_not_replace_existing_files":
        "imports Lightning (3 s)",
}
# The zoo's sweeps: in the fast lane only these loops, the zoo's required correct loops and the
# golden reports' runs; the slow lane runs every loop of the zoo.
ZOO_SWEEPS = {
    "test_zoo::test_correct_loop_is_clean",
    "test_zoo::test_broken_loop_is_diagnosed",
    "test_consistency::test_every_view_of_a_zoo_run_agrees",
}
ZOO_FAST = {
    "classic", "zero_grad_after_step", "zero_grad_keep_tensors", "grad_accumulation",
    "lbfgs_closure", "warmup_from_zero", "frozen_backbone", "weight_tying", "dropout_batchnorm",
    "gan", "converged", "unused_head",
    "no_zero_grad", "sigmoid_deep", "step_never_called", "lr_zero", "lr_huge", "backward_on_item",
}
# Cells run through a real shell (the `shell` fixture, and the magic's run of each `check` test,
# whose API run stays in the fast lane) are slow: the shell draws the report's figures for every
# cell (0.3-0.5 s). The fast lane keeps them where the shell is what the test is about, by module
# or by test:
SHELL_FAST = {
    "test_magic_cell": "the magic in the shell: lines, tracebacks, cell errors",
    "test_errors": "the user's exception and nbgrad's own errors as the shell shows them",
    "test_restore": "the shell's namespace restored on every way a cell ends",
    "test_restore_cell_changes": "what a cell changes on the user's objects is undone",
    "test_progress": "the progress bar is shown, and closed, only in a shell",
    "test_options": "the magic's options as the shell lists them (no cell runs)",
    "test_stop_unwinds::test_a_training_thread_from_an_earlier_cell_is_left_alone":
        "the stop leaves the user's other threads alone",
    "test_stop_unwinds::test_a_function_from_an_earlier_cell_that_swallows_the_stop_ends":
        "the stop ends a loop defined in an earlier cell",
}


def _key(item: pytest.Item) -> str:
    module = item.module.__name__.rsplit(".", 1)[-1] if getattr(item, "module", None) else ""
    return f"{module}::{getattr(item, 'originalname', item.name)}"


def _slow(item: pytest.Item) -> bool:
    key = _key(item)
    params = getattr(getattr(item, "callspec", None), "params", {})
    return (key.split("::")[0] in SLOW_MODULES or key in SLOW_TESTS
            or item.get_closest_marker("notebook") is not None
            or item.get_closest_marker("browser") is not None
            or (key in ZOO_SWEEPS and params.get("name") not in ZOO_FAST)
            or (_in_shell(item) and key not in SHELL_FAST and key.split("::")[0] not in SHELL_FAST))


def _in_shell(item: pytest.Item) -> bool:
    """Whether the test runs its cells through a real IPython shell."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return "shell" in getattr(item, "fixturenames", ()) or params.get("check") == "magic"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow lane: the modules, tests and parameters above, and notebook and browser tests."""
    for item in items:
        if _slow(item):
            item.add_marker(pytest.mark.slow)


def pytest_ignore_collect(collection_path, config: pytest.Config) -> bool | None:
    """A module of the slow lane is not even imported when `-m` leaves the slow lane out: some
    import Lightning or nbformat (seconds)."""
    if collection_path.suffix != ".py" or collection_path.stem not in SLOW_MODULES:
        return None
    return True if _leaves_out_slow(config.getoption("markexpr")) else None


def _leaves_out_slow(markexpr: str) -> bool:
    """Whether `-m markexpr` deselects every test marked `slow`, whatever its other markers: the
    expression is false with `slow` true for each choice of the other names in it."""
    if not markexpr:
        return False
    try:
        from _pytest.mark.expression import Expression
    except ImportError:  # pytest moved its parser: collect everything, as without this shortcut
        return False
    expression = Expression.compile(markexpr)
    others = sorted(set(re.findall(r"[A-Za-z_]\w*", markexpr)) - {"and", "or", "not", "slow"})
    if len(others) > 8:
        return False
    for values in itertools.product((False, True), repeat=len(others)):
        if expression.evaluate(_has({"slow", *(name for name, on in zip(others, values) if on)})):
            return False
    return True


def _has(marked: set[str]):
    """A matcher for pytest's marker expression: whether a test carries the marker `name`."""
    return lambda name, /, **kwargs: name in marked

"""Shared fixtures: a real IPython shell, one torch thread, and a check that nbgrad left no trace."""

from __future__ import annotations

import os
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
    ip.run_line_magic("load_ext", "nbgrad")
    ip.user_ns.update({"torch": torch, "nn": nn})
    yield ip
    ip.run_line_magic("unload_ext", "nbgrad")
    ip.user_ns.clear()
    ip.init_user_ns()


from tests.entry import check  # noqa: E402, F401 - the fixture that runs both entry points

# Whole modules that belong to the slow lane, and why: they start kernels, browsers, subprocesses
# or training frameworks, or wait on real timeouts. `pytest -m "not slow"` is the fast lane.
SLOW_MODULES = {
    "test_browser": "drives JupyterLab in Chromium",
    "test_notebooks": "executes notebooks in kernels",
    "test_frameworks": "imports and runs Lightning, Transformers, accelerate",
    "test_benchmark": "times workloads in subprocesses",
    "test_every_run_ends": "waits on real timeouts and signals",
    "test_adversarial": "generates hundreds of models and loops (hypothesis)",
    "test_cli": "runs nbgrad's command line in subprocesses",
    "test_distributed": "starts torchrun jobs of several Python processes",
}
# Single tests of the slow lane, by name: they compile models or start a Python of their own.
SLOW_TESTS = {
    "test_compiled_model_is_recorded_under_its_own_layer_names": "torch.compile",
    "test_compiled_model_with_the_default_inductor_backend": "torch.compile with inductor",
    "test_a_compiled_model_trains_under_the_probe": "torch.compile",
    "test_terminal_ipython_prints_the_text_report": "starts a terminal IPython",
    "test_figures_leave_pyplot_and_rcparams_alone": "starts a fresh Python",
    "test_a_rank_that_cannot_be_stopped_leaves_a_stuck_note": "waits 12 s in a blocking call",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow lane: the modules and tests above, notebook and browser tests, and the zoo's
    second entry point (the magic runs every zoo cell the API already ran, through a real shell)."""
    slow = pytest.mark.slow
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        params = getattr(getattr(item, "callspec", None), "params", {})
        name = getattr(item, "originalname", item.name)
        if (module in SLOW_MODULES or name in SLOW_TESTS or item.get_closest_marker("notebook")
                or item.get_closest_marker("browser")
                or (module == "test_zoo" and params.get("check") == "magic")):
            item.add_marker(slow)

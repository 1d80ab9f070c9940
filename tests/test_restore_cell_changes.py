"""Changes a cell makes to what existed before it, through the magic in a real shell: undone when the
object existed before (devices, dtypes, layouts, hooks, pruning, checkpoints on disk, objects held
deep), kept when they are the user's own (monkeypatches), and nothing of nbgrad's left behind."""

from __future__ import annotations

import gc
import sys
import warnings

import pytest
import torch
from torch import nn

import nbgrad
from nbgrad.capture.recorder import Recorder
from tests.state_tools import bits, picture, same

SETUP = ("torch.manual_seed(0)\nmodel = nn.Linear(4, 1)\nopt = torch.optim.Adam(model.parameters(), "
         "lr=0.1)\nx = torch.randn(8, 4)\n"
         "for _ in range(2):\n    opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step()\n")
LOOP = ("for i in range(100):\n    opt.zero_grad(); model(x.to(model.weight.dtype)).pow(2).mean()"
        ".backward(); opt.step()\n")


def magic(shell, cell: str, steps: int = 2, flags: str = "") -> nbgrad.Report:
    result = shell.run_cell(f"%%gradcheck --steps {steps} {flags}\n{cell}")
    assert result.error_before_exec is None and result.error_in_exec is None, result
    report = result.result
    assert report is nbgrad.last_report() and report.analysis_error is None
    return report


def before_and_twin(shell, names: list[str]) -> tuple[dict, dict]:
    ns = shell.user_ns
    return {n: picture(ns[n]) for n in names}, {n: ns[n] for n in names}


def now(shell, names: list[str]) -> dict:
    return {n: picture(shell.user_ns[n]) for n in names}


# -- devices, dtypes and memory layouts ------------------------------------------------------------
@pytest.mark.parametrize("move", ["double()", "half()", "to(torch.bfloat16)"])
def test_a_dtype_move_in_the_cell_is_undone_with_the_optimizer_state(shell, move):
    shell.run_cell(SETUP)
    before, _ = before_and_twin(shell, ["model", "opt"])
    model, opt = shell.user_ns["model"], shell.user_ns["opt"]
    weight, grad, exp_avg = model.weight, model.weight.grad, opt.state[model.weight]["exp_avg"]
    # load_state_dict casts the optimizer state to the parameters' new dtype (and device)
    report = magic(shell, f"model.{move}\nopt.load_state_dict(opt.state_dict())\n" + LOOP)
    assert len(report.run.steps) == 2 and report.run.params["model.weight"].dtype != "float32"
    assert same(before, now(shell, ["model", "opt"])) == []
    assert model.weight is weight and model.weight.grad is grad
    assert opt.state[weight]["exp_avg"] is exp_avg and exp_avg.dtype == torch.float32
    assert weight.dtype == grad.dtype == torch.float32
    result = shell.run_cell("opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step()")
    assert result.error_in_exec is None  # the next plain step works


def test_a_memory_format_change_in_the_cell_is_undone(shell):
    shell.run_cell("torch.manual_seed(0)\nmodel = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())\n"
                   "opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\n"
                   "x = torch.randn(2, 3, 5, 5)")
    weight = shell.user_ns["model"][0].weight
    strides, before = weight.stride(), picture(shell.user_ns["model"])
    report = magic(shell, "model.to(memory_format=torch.channels_last)\n"
                          "assert model[0].weight.is_contiguous(memory_format=torch.channels_last)\n"
                          + LOOP.replace("x.to(model.weight.dtype)", "x"))
    assert len(report.run.steps) == 2
    assert weight.stride() == strides and weight.is_contiguous()
    assert same(before, picture(shell.user_ns["model"])) == []


def test_parameters_the_cell_replaced_with_new_objects_come_back_on_their_own_device():
    """`.to()` to a device whose tensors cannot share a Python object with the old one (here `meta`;
    as for any move where torch builds new Parameters) puts new Parameter objects in the module:
    the restore puts the user's own objects back, with their device, values and gradients."""
    from nbgrad.capture import snapshot

    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    model(torch.randn(4, 3)).sum().backward()
    weight, grad, values = model.weight, model.weight.grad, bits(model.weight)
    snap = snapshot.take({"model": model}, source="model")
    try:
        model.to("meta")
        assert model.weight is not weight and model.weight.device.type == "meta"
    finally:
        info = snap.restore()
    assert info.failed == [] and info.objects == ["model"]
    assert model.weight is weight and weight.device.type == "cpu" and weight.grad is grad
    assert torch.equal(bits(weight), values)


# -- hooks, parametrizations and attributes added to existing modules ------------------------------
APPLY = {
    "prune": "from torch.nn.utils import prune\nprune.l1_unstructured(model, 'weight', amount=0.5)\n",
    "weight_norm": "torch.nn.utils.weight_norm(model)\n",
    "spectral_norm": "torch.nn.utils.spectral_norm(model)\n",
    "parametrized spectral_norm": "torch.nn.utils.parametrizations.spectral_norm(model)\n",
    "hooks and attributes": ("model.register_forward_pre_hook(lambda m, a: None)\n"
                             "model.register_forward_hook(lambda m, a, o: o * 2)\n"
                             "model.register_buffer('seen', torch.zeros(1))\n"
                             "model.extra = nn.Parameter(torch.zeros(1))\nmodel.tag = 'cell'\n"
                             "model.in_features = 99\n"),
}


@pytest.mark.parametrize("change", list(APPLY))
def test_hooks_and_attributes_the_cell_adds_to_a_module_are_removed(shell, change):
    shell.run_cell(SETUP)
    model = shell.user_ns["model"]
    before, weight, kind = picture(model), model.weight, type(model)
    attributes = set(vars(model))
    hooks = {k: dict(v) for k, v in vars(model).items() if k.endswith("hooks")}
    expected = model(shell.user_ns["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.nn.utils.weight_norm is deprecated
        report = magic(shell, APPLY[change] + LOOP)
    assert len(report.run.steps) == 2
    assert type(model) is kind and model.weight is weight and set(vars(model)) == attributes
    assert {k: dict(v) for k, v in vars(model).items() if k.endswith("hooks")} == hooks
    assert model.in_features == 4 and dict(model.named_buffers()) == {}
    assert same(before, picture(model)) == []
    assert torch.equal(model(shell.user_ns["x"]), expected)  # the model works as before


def test_hooks_and_attributes_the_cell_sets_on_parameters_are_removed(shell):
    shell.run_cell(SETUP + "keep = model.bias.register_hook(lambda g: g * 1)\n"
                   "model.bias.tag = 'before'")
    model = shell.user_ns["model"]
    report = magic(shell, "model.weight.register_hook(lambda g: g * 0)\n"
                          "model.weight.register_post_accumulate_grad_hook(lambda p: None)\n"
                          "model.weight.no_decay = True\nmodel.bias.tag = 'cell'\n" + LOOP)
    assert len(report.run.steps) == 2
    assert vars(model.weight) == {} and vars(model.bias) == {"tag": "before"}
    assert not model.weight._backward_hooks and not model.weight._post_accumulate_grad_hooks
    assert len(model.bias._backward_hooks) == 1
    shell.run_cell("model.zero_grad(); model(x).sum().backward()")
    assert model.weight.grad.abs().sum() > 0  # the cell's hook that zeroed gradients is gone
    shell.user_ns["keep"].remove()  # the user's handle still removes the user's hook
    assert not model.bias._backward_hooks


# -- checkpoints on disk -----------------------------------------------------------------------------
def test_torch_save_in_the_checked_loop_leaves_existing_files_as_they_were(shell, tmp_path):
    path = tmp_path / "ckpt.pt"
    shell.run_cell(SETUP + f"torch.save(model.state_dict(), {str(path)!r})")
    on_disk = path.read_bytes()
    cell = (f"for i in range(100):\n    opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step()\n"
            f"    torch.save(model.state_dict(), {str(path)!r})\n"
            f"    reread = torch.load({str(path)!r})\n"
            f"    torch.save(i, {str(tmp_path / 'new.pt')!r})\n")
    report = magic(shell, cell)
    assert path.read_bytes() == on_disk  # the user's checkpoint still matches the restored model
    saved = report.run.restore.files_redirected
    assert [s.path for s in saved] == [str(path)]
    check_version = torch.load(saved[0].written_to)
    assert torch.equal(check_version["weight"], shell.user_ns["reread"]["weight"])  # read back
    assert not torch.equal(check_version["weight"], shell.user_ns["model"].weight)
    assert report.run.restore.files_written == [str(tmp_path / "new.pt")]  # a new file is kept
    assert torch.load(tmp_path / "new.pt") == 0  # from i == 0: the 2nd step stopped the loop
    line = [x for x in report.to_text().splitlines() if x.startswith("files:")]
    assert line == [f"files: saves over 1 existing file went to {saved[0].written_to} instead "
                    f"(ckpt.pt is as it was); new files kept: new.pt"]
    assert torch.save is shell.user_ns["torch"].serialization.save
    assert nbgrad.Report.from_json(report.to_json()).run.restore == report.run.restore

    kept = magic(shell, cell, flags="--keep")  # --keep: the steps' files are kept too
    assert path.read_bytes() != on_disk and kept.run.restore.files_redirected == []


# -- names and patches -------------------------------------------------------------------------------
def recorders() -> int:
    gc.collect()
    with warnings.catch_warnings():  # isinstance() on torch.distributed's deprecated names warns
        warnings.simplefilter("ignore", FutureWarning)
        return sum(isinstance(o, Recorder) for o in gc.get_objects())


def test_a_name_the_cell_binds_to_a_patched_function_is_not_nbgrads_after_the_check(shell):
    shell.run_cell(SETUP)
    alive = recorders()
    report = magic(shell, "from torch.nn.utils import clip_grad_norm_\nfrom torch.autograd import "
                          "backward\nzero = opt.zero_grad\nfor i in range(100):\n    zero()\n"
                          "    backward(model(x).pow(2).mean())\n"
                          "    clip_grad_norm_(model.parameters(), 1e-3); opt.step()\n")
    assert [e.kind for e in report.run.events[:3]] == ["zero_grad", "backward", "clip"]
    shell.run_cell("zero(); backward(model(x).pow(2).mean()); "
                   "total = clip_grad_norm_(model.parameters(), 1e-3)")
    assert recorders() == alive  # no dead check's recorder (and parameters) kept alive
    grads = torch.cat([p.grad.flatten() for p in shell.user_ns["model"].parameters()])
    assert shell.user_ns["total"] > 1e-3 and grads.norm().item() == pytest.approx(1e-3, rel=1e-4)


def test_the_users_own_monkeypatches_made_in_the_cell_are_kept(shell):
    shell.run_cell(SETUP)
    originals = (torch.nn.utils.clip_grad_norm_, torch.optim.Optimizer.zero_grad,
                 torch.autograd.backward)
    shell.run_cell("calls = []\noriginal_clip = torch.nn.utils.clip_grad_norm_\n"
                   "def my_clip(*a, **k):\n    calls.append('clip'); return original_clip(*a, **k)\n"
                   "def my_zero_grad(self, set_to_none=True):\n    calls.append('zero')\n"
                   "    for g in self.param_groups:\n        for p in g['params']: p.grad = None\n"
                   "original_backward = torch.autograd.backward\n"
                   "def my_backward(*a, **k):\n    calls.append('backward')\n"
                   "    return original_backward(*a, **k)\n")
    ns = shell.user_ns
    try:
        magic(shell, "torch.nn.utils.clip_grad_norm_ = my_clip\n"
                     "torch.optim.Optimizer.zero_grad = my_zero_grad\n"
                     "torch.autograd.backward = my_backward\n" + LOOP)
        assert torch.nn.utils.clip_grad_norm_ is ns["my_clip"]
        assert torch.optim.Optimizer.zero_grad is ns["my_zero_grad"]
        assert torch.autograd.backward is ns["my_backward"]
        ns["calls"].clear()
        shell.run_cell("opt.zero_grad(); model(x).sum().backward(); "
                       "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)")
        assert ns["calls"] == ["zero", "backward", "clip"]
    finally:
        torch.nn.utils.clip_grad_norm_, torch.optim.Optimizer.zero_grad, \
            torch.autograd.backward = originals


def test_the_optimizer_forgets_that_the_check_stepped_it(shell):
    shell.run_cell(SETUP + "sched = torch.optim.lr_scheduler.StepLR(opt, 1)\nopt.__dict__.pop("
                   "'_opt_called', None)")
    magic(shell, "for i in range(100):\n    opt.zero_grad(); model(x).sum().backward(); opt.step(); "
                 "sched.step()\n")
    assert not hasattr(shell.user_ns["opt"], "_opt_called")


# -- objects held deep, or not found by name ---------------------------------------------------------
DEEP = {
    "cfg['stage1']['model']": "cfg = {'stage1': {'model': model}}\n",
    "t.inner.model": "class T:\n    pass\nt = T(); t.inner = T(); t.inner.model = model\n",
    "deep_module_lib.model": "import deep_module_lib\ndeep_module_lib.model = model\n",
}


@pytest.mark.parametrize("where", list(DEEP))
def test_a_model_held_deep_is_restored_and_named(shell, where, tmp_path, monkeypatch):
    (tmp_path / "deep_module_lib.py").write_text(
        "import torch\nmodel = None\n\ndef train():\n    opt = torch.optim.SGD(model.parameters(), "
        "lr=0.1)\n    while True:\n        opt.zero_grad(); model(torch.ones(2, 4)).sum().backward()\n"
        "        opt.step()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "deep_module_lib", raising=False)
    shell.run_cell(SETUP + DEEP[where] + "del model, opt")
    held = eval(where, shell.user_ns)
    before = picture(held)
    cell = ("deep_module_lib.train()" if "lib" in where else
            f"m = {where}\no = torch.optim.SGD(m.parameters(), lr=0.1)\n"
            "while True:\n    o.zero_grad(); m(x).sum().backward(); o.step()\n")
    report = magic(shell, cell)
    assert len(report.run.steps) == 2
    assert same(before, picture(held)) == []
    assert report.run.restore.objects == [where]
    assert "no model or optimizer existed before the cell" not in report.to_text()


def test_a_model_no_name_reaches_is_restored_from_its_first_use(shell):
    shell.run_cell(SETUP + "from collections.abc import Mapping\n"
                   "class Registry(Mapping):  # not a dict: nbgrad does not read it\n"
                   "    def __init__(self, **items): self._items = items\n"
                   "    def __getitem__(self, k): return self._items[k]\n"
                   "    def __iter__(self): return iter(self._items)\n"
                   "    def __len__(self): return len(self._items)\n"
                   "registry = Registry(net=model)\ndef get(): return registry._items['net']\n"
                   "run = lambda: get()\ndel model, opt")
    held = shell.user_ns["registry"]["net"]
    before = picture(held)
    report = magic(shell, "m = run()\no = torch.optim.SGD(m.parameters(), lr=0.1)\n"
                          "while True:\n    o.zero_grad(); m(x).sum().backward(); o.step()\n")
    assert same(before, picture(held)) == []
    assert report.run.restore.copied_at_first_use == ["Linear"]
    assert "Linear (copied when the steps first used it)" in report.to_text()


# -- what discovery reads ----------------------------------------------------------------------------
def test_discovery_reads_no_foreign_mapping_and_copies_no_unused_model(shell, tmp_path):
    import numpy as np

    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    shell.run_cell(SETUP + "import shelve\nimport numpy as np\n"
                   "from collections.abc import Mapping\nreads = []\n"
                   "class Spy(Mapping):\n"
                   "    def __getitem__(self, k): reads.append(k); return nn.Linear(1, 1)\n"
                   "    def __iter__(self): reads.append('iter'); return iter(['a'])\n"
                   "    def __len__(self): reads.append('len'); return 1\n"
                   "    def __getattr__(self, name): reads.append(name); raise AttributeError(name)\n"
                   "spy = Spy()\n"
                   f"db = shelve.open({str(tmp_path / 'db')!r}, writeback=True)\n"
                   "db['model'] = nn.Linear(2, 2); db.sync(); db.cache.clear()\n"
                   f"arrays = np.load({str(tmp_path / 'x.npz')!r})\n"
                   "frozen = nn.Linear(300, 300).requires_grad_(False)  # unrelated to the cell\n"
                   "holder = {'frozen': frozen, 'spy': spy}")
    try:
        report = magic(shell, LOOP)
        ns = shell.user_ns
        assert ns["reads"] == [] and dict(ns["db"].cache) == {}
        restore = report.run.restore
        assert restore.objects == ["model", "opt"]
        params = list(ns["model"].parameters())
        tensors = params + [p.grad for p in params] + [
            t for s in ns["opt"].state.values() for t in s.values()]
        assert restore.bytes == sum(t.numel() * t.element_size() for t in tensors)
        assert restore.not_copied == ["frozen"]
    finally:
        shell.user_ns["db"].close()
        shell.user_ns["arrays"].close()


LIGHTNING_SAVES = """
import pytorch_lightning as pl
from torch.utils.data import DataLoader, TensorDataset
class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 1)
    def training_step(self, batch, batch_idx):
        return self.body(batch[0]).pow(2).mean()
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
class SaveEveryStep(pl.Callback):
    def on_train_batch_end(self, trainer, *args):
        trainer.save_checkpoint(PATH)
        safetensors.torch.save_file({'w': torch.ones(2)}, WEIGHTS)
loader = DataLoader(TensorDataset(torch.randn(64, 4)), batch_size=8)
trainer = pl.Trainer(max_epochs=5, accelerator="cpu", devices=1, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, callbacks=[SaveEveryStep()], default_root_dir=ROOT)
trainer.fit(Net(), loader)
"""


def test_lightning_and_safetensors_checkpoints_do_not_replace_existing_files(shell, tmp_path):
    pytest.importorskip("pytorch_lightning")
    safetensors = pytest.importorskip("safetensors.torch")
    lightning_file, weights_file = tmp_path / "last.ckpt", tmp_path / "model.safetensors"
    lightning_file.write_bytes(b"the user's checkpoint")
    safetensors.save_file({"w": torch.zeros(2)}, str(weights_file))
    weights = weights_file.read_bytes()
    shell.run_cell(SETUP + f"PATH, WEIGHTS = {str(lightning_file)!r}, {str(weights_file)!r}\n"
                   f"ROOT = {str(tmp_path)!r}\nimport safetensors.torch")
    report = magic(shell, LIGHTNING_SAVES)
    assert lightning_file.read_bytes() == b"the user's checkpoint"
    assert weights_file.read_bytes() == weights
    saved = {s.path: s.written_to for s in report.run.restore.files_redirected}
    assert list(saved) == [str(lightning_file), str(weights_file)]
    assert torch.load(saved[str(lightning_file)], weights_only=False)["global_step"] == 1
    assert torch.equal(safetensors.load_file(saved[str(weights_file)])["w"], torch.ones(2))


def test_a_model_only_a_function_of_an_earlier_cell_uses_is_copied_before_the_cell(shell):
    """The cell names neither `model` nor `opt`, the function it calls does: both are copied before
    the cell runs, so the gradients its first `zero_grad()` drops come back too."""
    shell.run_cell(SETUP + "def train():\n    while True:\n"
                   "        opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step()\n")
    before, _ = before_and_twin(shell, ["model", "opt"])
    assert shell.user_ns["model"].weight.grad is not None
    report = magic(shell, "train()")
    assert report.run.restore.objects == ["model", "opt"] and report.run.restore.not_copied == []
    assert same(before, now(shell, ["model", "opt"])) == []


def test_a_copy_on_first_use_that_does_not_fit_in_memory_is_not_made_and_said(shell, monkeypatch):
    from nbgrad.capture import budget

    shell.run_cell(SETUP + "from collections.abc import Mapping\n"
                   "class Registry(Mapping):  # not a dict: nbgrad does not read it\n"
                   "    def __init__(self, **items): self._items = items\n"
                   "    def __getitem__(self, k): return self._items[k]\n"
                   "    def __iter__(self): return iter(self._items)\n"
                   "    def __len__(self): return len(self._items)\n"
                   "registry = Registry(net=model)\ndel model, opt")
    held = shell.user_ns["registry"]["net"]
    weight = held.weight.detach().clone()
    tight = budget.Room(20, "a test's limit")  # 80% of it: 16 bytes
    monkeypatch.setattr(budget, "host_room", lambda: tight)
    report = magic(shell, "m = registry['net']\no = torch.optim.SGD(m.parameters(), lr=0.1)\n"
                          "while True:\n    o.zero_grad(); m(x).sum().backward(); o.step()\n")
    assert len(report.run.steps) == 2 and report.run.restore.copied_at_first_use == []
    assert report.run.restore.failed == [  # values and gradients, then values (grads cleared)
        "the gradients of 2 parameters: their 40 B copy did not fit in the 20 B free under a "
        "test's limit when the steps first used them; they keep the steps' changes",
        "Linear: its 20 B copy did not fit in the 20 B free under a test's limit when the steps "
        "first used it; it keeps the steps' changes"]
    assert not torch.equal(held.weight, weight)  # trained, and said so


def test_hand_made_parameters_a_new_optimizer_steps_are_restored(shell):
    """No code names `w` (so it is not copied up front); the optimizer the cell makes steps it."""
    shell.run_cell("torch.manual_seed(0)\nw = torch.randn(4, 1, requires_grad=True)\n"
                   "x = torch.randn(8, 4)\n(x @ w).sum().backward()\n"
                   "def param():\n    return globals()[chr(119)]\n")
    before = picture(shell.user_ns["w"])
    report = magic(shell, "o = torch.optim.Adam([param()], lr=0.1)\nwhile True:\n"
                          "    o.zero_grad(); (x @ param()).pow(2).sum().backward(); o.step()\n")
    assert report.run.restore.objects == ["w"] and report.run.restore.not_copied == []
    assert same(before, picture(shell.user_ns["w"])) == []

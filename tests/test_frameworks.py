"""The frameworks students move on to: PyTorch Lightning, Hugging Face `Trainer`, `accelerate`.

The cells are what a user writes, unchanged; each run is stopped after N optimizer steps inside the
framework's own loop, and the recorded gradients are compared with the same training done by hand.
The frameworks are the optional `frameworks` extra: without them these tests are skipped, except
under CI (CI=true), whose .ci/run installs the extra, so there a missing framework fails.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType

import pytest
import torch
from torch import nn


def need(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module} must be installed under CI (.ci/run installs the 'frameworks' "
                        f"extra): {error}")
        pytest.skip(f"{module} is not installed: pip install 'nbgrad[frameworks]' ({error})")


@pytest.fixture
def quiet_logs():
    """Lightning and transformers log to the terminal at INFO; the tests read the report instead."""
    names = ["pytorch_lightning", "lightning.pytorch", "lightning_fabric", "transformers"]
    levels = {n: logging.getLogger(n).level for n in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def sgd_oracle(steps: int, accumulate: int) -> list[dict[str, float]]:
    """SGD(lr=0.1) on batches of 8 in order, the loss divided by `accumulate` as both frameworks do;
    the gradient norms each step sees, by parameter."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    out = []
    batch = 0
    for _ in range(steps):
        opt.zero_grad()
        for _ in range(accumulate):
            xb, yb = x[batch * 8:(batch + 1) * 8], y[batch * 8:(batch + 1) * 8]
            (nn.functional.mse_loss(model(xb), yb) / accumulate).backward()
            batch += 1
        out.append({n: p.grad.norm().item() for n, p in model.named_parameters()})
        opt.step()
    return out


# -- PyTorch Lightning ------------------------------------------------------------------------

LIGHTNING = """
import pytorch_lightning as pl
from torch.utils.data import DataLoader, TensorDataset
class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.body(x), y)
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
torch.manual_seed(0)
model = Net()
loader = DataLoader(TensorDataset(torch.randn(64, 4), torch.randn(64, 1)), batch_size=8)
trainer = pl.Trainer(max_epochs=50, accumulate_grad_batches=ACCUMULATE, accelerator="cpu", devices=1,
                     logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, default_root_dir=ROOT)
trainer.fit(model, loader)
"""


@pytest.mark.parametrize("accumulate", [1, 2])
def test_lightning_fit_is_stopped_after_n_steps_and_recorded(check, tmp_path, quiet_logs,
                                                             accumulate):
    need("pytorch_lightning")
    ns = {"ROOT": str(tmp_path), "ACCUMULATE": accumulate}
    report = check(LIGHTNING, namespace=ns, steps=3)  # returns: no traceback reached the user
    run = report.run
    assert run.stopped_by == "steps" and len(run.steps) == 3
    assert list(run.layers) == ["body.0", "body.2"]
    (opt,) = run.optimizers
    assert (opt.type, opt.name, opt.steps) == ("SGD", "trainer.optimizers[0]", 3)
    assert opt.closure  # Lightning steps with a closure that runs training_step and backward
    assert [s.backward_calls for s in run.steps] == [accumulate] * 3
    assert [e.target for e in run.events if e.kind == "zero_grad" and e.step > 0] == ["SGD", "SGD"]
    for step, want in zip(run.steps, sgd_oracle(3, accumulate)):
        for name, value in want.items():
            got = step.params[f"body.{name}"]
            assert got.grad_norm == pytest.approx(value, rel=1e-5), name
            assert got.update_norm == pytest.approx(0.1 * value, rel=1e-4), name
    assert all(p.requires_grad for p in ns["model"].parameters())
    assert os.listdir(tmp_path) == []  # quiet and file-free
    assert report.problems == []


LIGHTNING_MANUAL = """
import pytorch_lightning as pl
from torch.utils.data import DataLoader, TensorDataset
class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.automatic_optimization = False
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        x, y = batch
        loss = nn.functional.mse_loss(self.body(x), y)
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
torch.manual_seed(0)
model = Net()
loader = DataLoader(TensorDataset(torch.randn(64, 4), torch.randn(64, 1)), batch_size=8)
trainer = pl.Trainer(max_epochs=50, accelerator="cpu", devices=1, precision=PRECISION, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, default_root_dir=ROOT)
trainer.fit(model, loader)
"""


@pytest.mark.parametrize(("precision", "rel"), [("32-true", 1e-5), ("bf16-mixed", 5e-2)])
def test_lightning_manual_optimization_and_bf16_mixed(tmp_path, quiet_logs, precision, rel):
    # bfloat16 keeps 8 bits of mantissa: its gradients agree with float32 to a few percent.
    need("pytorch_lightning")
    import nbgrad

    ns = {"ROOT": str(tmp_path), "PRECISION": precision, "torch": torch, "nn": nn}
    report = nbgrad.gradcheck(LIGHTNING_MANUAL, steps=3, namespace=ns)
    run = report.run
    assert run.stopped_by == "steps" and len(run.steps) == 3
    assert [s.backward_calls for s in run.steps] == [1, 1, 1]  # manual_backward, outside step()
    for step, want in zip(run.steps, sgd_oracle(3, 1)):
        for name, value in want.items():
            assert step.params[f"body.{name}"].grad_norm == pytest.approx(value, rel=rel), name
    assert report.problems == []


# -- Hugging Face transformers.Trainer --------------------------------------------------------

HF_TRAINER = """
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments
torch.manual_seed(0)
config = GPT2Config(vocab_size=32, n_positions=16, n_embd=16, n_layer=2, n_head=2, bos_token_id=0,
                    eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
model = GPT2LMHeadModel(config)
tokens = torch.arange(8)
data = [{"input_ids": tokens, "labels": tokens}] * 64
args = TrainingArguments(output_dir=ROOT, per_device_train_batch_size=4, max_steps=50,
                         learning_rate=1e-3, max_grad_norm=0.0, report_to="none", save_strategy="no",
                         logging_strategy="no", disable_tqdm=True, use_cpu=True)
trainer = Trainer(model=model, args=args, train_dataset=data)
trainer.train()
"""


def test_hf_trainer_on_a_tiny_config_model_is_stopped_and_recorded(check, tmp_path, quiet_logs,
                                                                   monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # built from a config: nothing to download
    transformers = need("transformers")
    ns = {"ROOT": str(tmp_path)}
    report = check(HF_TRAINER, namespace=ns, steps=3)
    run = report.run
    assert run.stopped_by == "steps" and len(run.steps) == 3
    (opt,) = run.optimizers
    assert (opt.type, opt.name) == ("AdamW", "trainer.optimizer")
    assert run.layers["transformer.h.1.mlp.c_fc"].type == "Conv1D"
    assert run.params["transformer.wte.weight"].aliases == ["lm_head.weight"]  # tied embeddings
    # the linear schedule with no warm-up: lr = 1e-3 * (1 - step / max_steps)
    assert [s.lr[0] for s in run.steps] == pytest.approx([1e-3, 1e-3 * 49 / 50, 1e-3 * 48 / 50])
    # the first step's gradients, by hand: every batch is the same four sequences, and the Trainer
    # divides the summed token losses by the number of label tokens in the batch (4 * 8)
    torch.manual_seed(0)
    again = transformers.GPT2LMHeadModel(ns["config"])
    batch = torch.arange(8).repeat(4, 1)
    loss = again(input_ids=batch, labels=batch, num_items_in_batch=torch.tensor(32)).loss
    loss.backward()
    first = run.steps[0]
    assert first.losses == [pytest.approx(loss.item(), rel=1e-5)]
    for name, p in again.named_parameters():
        assert first.params[name].grad_norm == pytest.approx(p.grad.norm().item(), rel=1e-4,
                                                             abs=1e-7), name
    assert all(s.update_norm > 0 for s in first.params.values() if s.grad_norm)
    assert report.problems == []


# -- accelerate -------------------------------------------------------------------------------

ACCELERATE = """
from accelerate import Accelerator
from torch.utils.data import DataLoader, TensorDataset
accelerator = Accelerator(cpu=True, gradient_accumulation_steps=ACCUMULATE)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loader = DataLoader(TensorDataset(torch.randn(64, 4), torch.randn(64, 1)), batch_size=8)
model, opt, loader = accelerator.prepare(model, opt, loader)
for epoch in range(50):
    for x, y in loader:
        with accelerator.accumulate(model):
            loss = nn.functional.mse_loss(model(x), y)
            accelerator.backward(loss)
            opt.step()
            opt.zero_grad()
"""


@pytest.mark.parametrize("accumulate", [1, 2])
def test_accelerate_loop_is_recorded(check, accumulate):
    need("accelerate")
    report = check(ACCELERATE, namespace={"ACCUMULATE": accumulate}, steps=3)
    run = report.run
    assert run.stopped_by == "steps" and len(run.steps) == 3
    (opt,) = run.optimizers
    assert (opt.type, opt.name) == ("SGD", "opt")  # named by the wrapper the user holds
    assert [s.backward_calls for s in run.steps] == [accumulate] * 3
    step_line = next(i for i, t in enumerate(ACCELERATE.splitlines(), 1) if "opt.step()" in t)
    assert {e.line for e in run.events if e.kind == "step"} == {step_line + check.line_offset}
    for step, want in zip(run.steps, sgd_oracle(3, accumulate)):
        for name, value in want.items():
            assert step.params[name].grad_norm == pytest.approx(value, rel=1e-5), name
    assert report.problems == []

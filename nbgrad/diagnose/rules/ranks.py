"""Across the ranks of a torchrun job: what one process cannot see.

These rules read `run.ranks` (one `RankRecord` per process, filled in when the ranks' reports are
merged) and do nothing for a run of one process:

- NBG951 parameters differ across ranks after a step (checksums of params and grads per step);
- NBG952 every rank trains on the same batches (fingerprints of the model's input per step);
- NBG953 ranks took different numbers of steps or ended differently (the hang to come);
- NBG954 parameters that get no gradient under DistributedDataParallel;
- NBG955 BatchNorm statistics over a handful of examples per rank, without SyncBatchNorm (note).

Codes NBG95x: the NBG9 family explains exceptions (NBG90x-91x); these explain what makes a job of
several processes hang or train apart, and sit in their own decade so that both can grow.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import DDPModule, RankRecord, RankStep, Run
from nbgrad.thresholds import BATCHNORM_RANK_BATCH, RANK_CHECKSUM_TOLERANCE

DDP_UNUSED_ERROR = "Expected to have finished reduction in the prior iteration"
DDP_CALL = r"DistributedDataParallel\(|\bDDP\("


def _reported(run: Run) -> list[RankRecord]:
    """The ranks that sent records, when the run is one of several ranks (else none)."""
    if len(run.ranks) < 2:
        return []
    return [r for r in run.ranks if r.reported]


# -- checksums ---------------------------------------------------------------------------------------
@dataclass
class Difference:
    param: str
    what: str  # "weights" / "gradient"
    values: dict[int, float]  # rank -> sum of squares
    relative: float


def _relative(a: tuple[float | None, float], b: tuple[float | None, float], numel: int) -> float:
    """How far two (sum, sum of squares) checksums are apart, relative to the tensor's scale:
    the sum (when there is one) against its largest possible size sqrt(numel * sum of squares),
    the sum of squares against itself."""
    square = max(abs(a[1]), abs(b[1]))
    values = [v for v in (*a, *b) if v is not None]
    if not all(map(math.isfinite, values)):
        same = a == b or (math.isnan(a[1]) and math.isnan(b[1]))
        return 0.0 if same else math.inf
    if square == 0:
        return 0.0 if a == b else math.inf
    apart = abs(a[1] - b[1]) / square
    if a[0] is not None and b[0] is not None:
        apart = max(apart, abs(a[0] - b[0]) / math.sqrt(numel * square))
    return apart


def _param_names(run: Run, optimizer: int) -> list[str]:
    if not 0 <= optimizer < len(run.optimizers):
        return []
    return [p for group in run.optimizers[optimizer].param_groups for p in group]


def _compare(run: Run, steps: dict[int, RankStep], grads: bool) -> list[Difference]:
    """Params (or grads) whose checksums differ between the ranks at one step, worst first."""
    ref_rank = min(steps)
    ref = steps[ref_rank]
    names = _param_names(run, ref.optimizer)
    if any(len(s.param_sum) != len(names) or s.optimizer != ref.optimizer for s in steps.values()):
        return []
    found = []
    for i, name in enumerate(names):
        numel = run.params[name].numel if name in run.params else 1
        pairs: dict[int, tuple[float | None, float]] = {}
        for rank, step in steps.items():
            if not grads:
                pairs[rank] = (step.param_sum[i], step.param_square_sum[i])
            elif (square := step.grad_square_sum[i]) is not None:
                pairs[rank] = (None, square)
        if len(pairs) < 2:
            continue
        base = pairs[min(pairs)]
        worst = max(_relative(base, p, max(numel, 1)) for p in pairs.values())
        if worst > RANK_CHECKSUM_TOLERANCE:
            found.append(Difference(name, "gradient" if grads else "weights",
                                    {r: p[1] for r, p in pairs.items()}, worst))
    return sorted(found, key=lambda d: -d.relative)


def _at(ranks: list[RankRecord], index: int) -> dict[int, RankStep]:
    return {r.rank: r.checksums[index] for r in ranks if index < len(r.checksums)}


def _values(d: Difference) -> str:
    return ", ".join(f"{facts.fmt(v)} on rank {r}" for r, v in sorted(d.values.items()))


def _ddp_params(ranks: list[RankRecord]) -> set[str]:
    return {p for r in ranks for m in r.ddp for p in m.params}


def _model_variable(run: Run, line: int | None) -> str:
    """The name whose `.parameters()` the optimizer line takes (`model` when unknown)."""
    text = run.cell_line(line)
    found = re.search(r"(\w+)\.parameters\(\)", text)
    return found.group(1) if found else "model"


def parameters_differ(run: Run) -> list[Diagnosis]:
    """NBG951: the ranks' copies of the model are not the same after a step."""
    ranks = _reported(run)
    if len(ranks) < 2 or any(r.sharded for r in ranks):  # shards differ by design
        return []
    start = {r.rank: r.initial for r in ranks if r.initial is not None}
    initial = _compare(run, start, grads=False) if len(start) > 1 else []
    count = min(len(r.checksums) for r in ranks)
    for index in range(count):
        steps = _at(ranks, index)
        weights = _compare(run, steps, grads=False)
        if not weights and not initial:
            continue
        return [_drift(run, ranks, index, initial, _compare(run, steps, grads=True), weights,
                       steps)]
    return []


def _drift(run: Run, ranks: list[RankRecord], index: int, initial: list[Difference],
           grads: list[Difference], weights: list[Difference],
           steps: dict[int, RankStep]) -> Diagnosis:
    shown = weights or initial
    evidence = [Evidence(f"after step {index}, the weights of {facts.names([d.param for d in shown])} "
                         f"differ between ranks: '{d.param}' sum of squares {_values(d)}",
                         d.relative, step=index) for d in shown[:1]]
    evidence += [Evidence(f"'{d.param}' differs too: {_values(d)}", d.relative, step=index)
                 for d in shown[1:3]]
    wrapped = _ddp_params(ranks)
    outside = [d.param for d in shown if d.param not in wrapped]
    synced = [s.grad_sync for s in steps.values() if s.grad_sync is not None]
    optimizer_line = facts.line_matching(run, r"optim\.\w+\(")
    model = _model_variable(run, optimizer_line)
    if initial:
        d = initial[0]
        evidence.insert(0, Evidence(f"before the first step the weights already differed: "
                                    f"'{d.param}' sum of squares {_values(d)}", d.relative))
    if grads:
        d = grads[0]
        evidence.append(Evidence(f"the gradients at step {index} differ as well, so they were not "
                                 f"averaged across ranks: '{d.param}' {_values(d)}", d.relative,
                                 step=index))
    elif not initial:
        evidence.append(Evidence(f"the gradients at step {index} were the same on every rank: the "
                                 "optimizer's step itself differs between ranks", 0.0, step=index))
    if not wrapped:
        evidence.append(Evidence("no DistributedDataParallel wrapper ran: nothing averages the "
                                 "gradients or copies rank 0's weights to the others", 0.0))
        why = ("Each rank trains its own copy of the model on its own data: the copies drift apart, "
               "and the model you save from rank 0 learnt from rank 0's share of the data only.")
        fix = (f"Wrap the model in DistributedDataParallel before making the optimizer: "
               f"`{model} = DistributedDataParallel({model})` copies rank 0's weights to every rank "
               "and averages the gradients in backward().")
        fix_code = f"{model} = torch.nn.parallel.DistributedDataParallel({model})"
        line = optimizer_line
    elif outside:
        evidence.append(Evidence(f"{facts.names(outside)} are stepped by the optimizer but are "
                                 "not inside the DistributedDataParallel wrapper", len(outside)))
        why = ("DistributedDataParallel only averages the gradients of the module it wraps; "
               "parameters outside it train on each rank's data alone and drift apart.")
        fix = ("Wrap the whole model (every module whose parameters the optimizer steps) in one "
               "DistributedDataParallel, and build the optimizer from the wrapper's parameters.")
        fix_code, line = None, facts.line_matching(run, DDP_CALL)
    elif synced and not all(synced):
        evidence.append(Evidence("gradient syncing was off at the step: the step ran inside "
                                 "model.no_sync()", 0.0, step=index))
        why = ("Inside no_sync() DistributedDataParallel skips the all-reduce: each rank steps "
               "with its own gradient and the copies drift apart.")
        fix = ("Use no_sync() only around the backward passes you accumulate, and run the last "
               "backward() before step() outside it, so that the accumulated gradient is averaged.")
        fix_code, line = None, facts.line_matching(run, r"no_sync\(")
    else:
        why = ("Ranks that hold different weights compute different gradients and never agree "
               "again: the job trains several models, not one.")
        fix = ("Make every rank compute the same update: run the last backward() before step() "
               "outside no_sync(), and do not change gradients, learning rates or weights "
               "depending on the rank.")
        fix_code, line = None, facts.line_matching(run, r"no_sync\(")
    return make("NBG951", severity="error",
        title=f"The model's weights differ across ranks after step {index}: the ranks train "
              "separate models",
        evidence=evidence, why=why, fix=fix, fix_code=fix_code, line=line, confidence=0.95,
        layers=sorted({run.params[d.param].layer for d in shown if d.param in run.params}),
        # DDP all-reduces nothing of a bucket that holds a parameter without a gradient
        consequence_of=["NBG954"])


# -- the same data on every rank ---------------------------------------------------------------------
def _same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=RANK_CHECKSUM_TOLERANCE, abs_tol=1e-12) for x, y in zip(a, b))


def same_batches(run: Run) -> list[Diagnosis]:
    """NBG952: every rank's model input is the same batch at every step compared."""
    ranks = _reported(run)
    if len(ranks) < 2 or any("DTensor" in r.sharded for r in ranks):  # tensor parallel: by design
        return []
    count = min(len(r.batch_fingerprints) for r in ranks)
    compared = [i for i in range(count) if all(r.batch_fingerprints[i] for r in ranks)]
    if not compared:
        return []
    first = ranks[0]
    for i in compared:
        if not all(_same(first.batch_fingerprints[i], r.batch_fingerprints[i])  # type: ignore[arg-type]
                   for r in ranks[1:]):
            return []
    # the fingerprint is (sum, sum of squares, position-weighted sum): the first two are shown
    total, square = first.batch_fingerprints[compared[0]][:2]  # type: ignore[index]
    evidence = [Evidence(f"step {compared[0]}: the model's input had sum {facts.fmt(total)} and sum "
                         f"of squares {facts.fmt(square)} on all {len(ranks)} ranks", square,
                         step=compared[0]),
                Evidence(f"the same batch on every rank at each of the {len(compared)} steps "
                         "compared", float(len(compared)))]
    loaders = [loader for loader in first.loaders]
    for loader in loaders[:2]:
        share = "" if loader.dataset_size is None or loader.batch_size is None else (
            f"; a DistributedSampler would give each rank {math.ceil(loader.dataset_size / len(ranks))}"
            " of them")
        evidence.append(Evidence(
            f"DataLoader '{loader.name}' picks with a {loader.sampler} from "
            f"{loader.dataset_size} examples, {loader.batches} batches per epoch on each rank{share}",
            loader.batches))
    distributed = [loader for loader in loaders if loader.num_replicas is not None]
    line = next((loader.line for loader in loaders), None) or facts.line_matching(run, r"DataLoader\(")
    if distributed:
        why_sampler = (f"DataLoader '{distributed[0].name}' has a DistributedSampler, but it splits "
                       f"the data into {distributed[0].num_replicas} and this is rank "
                       f"{distributed[0].sampler_rank} of it on every rank.")
        fix = ("Let DistributedSampler read the rank and the number of ranks from the process "
               "group: DistributedSampler(dataset) with no num_replicas= or rank=.")
        fix_code = None
    else:
        why_sampler = ""
        fix = ("Give each rank its own share of the data: DataLoader(dataset, batch_size=..., "
               "sampler=DistributedSampler(dataset)) (no shuffle=True beside it: the sampler "
               "shuffles), and call sampler.set_epoch(epoch) at the start of every epoch.")
        fix_code = "loader = DataLoader(dataset, batch_size=batch_size, sampler=DistributedSampler(dataset))"
    return [make("NBG952", severity="warning",
        title=f"Every rank trains on the same batches: {len(ranks)} processes do the work of one",
        evidence=evidence,
        why=(why_sampler + " " if why_sampler else "") +
            "Each rank computes the gradient of the same examples, so averaging them changes "
            "nothing: an epoch takes as many steps as on one process, and the other ranks' "
            "compute is wasted.",
        fix=fix, fix_code=fix_code, line=line, confidence=0.9)]


# -- ranks that end differently ---------------------------------------------------------------------
ENDS = {
    "steps": "took the requested steps",
    "finished": "its loop ended",
    "timeout": "timed out waiting for a step",
    "error": "raised",
    "interrupt": "was interrupted",
    "skipped": "stopped: GradScaler skipped every step",
    "rank": "was stopped by nbgrad because another rank ended",
}


def _where(run: Run, line: int | None) -> str:
    if line is None:
        return ""
    text = run.cell_line(line)
    return f" at line {line}" + (f" ({text})" if text else "")


def _short(message: str, limit: int = 120) -> str:
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first if len(first) <= limit else first[:limit - 1] + "…"


def _last_step_line(r: RankRecord) -> int | None:
    return next((line for line in reversed(r.step_lines) if line is not None), None)


def _rank_words(run: Run, r: RankRecord) -> str:
    if not r.reported:
        return f"rank {r.rank}: {r.note}" + (f" after {r.steps_taken} steps" if r.stuck else "")
    end = ENDS.get(r.stopped_by or "", r.stopped_by or "ended")
    line = None if r.stopped_by == "steps" else r.stop_line
    if r.stopped_by == "error" and r.error is not None:
        end = f"raised {r.error.type}: {_short(r.error.message)}"
    elif r.stopped_by == "finished":
        end, line = "its loop ended; its last step was", _last_step_line(r)
    return (f"rank {r.rank}: {r.steps_taken} step{'s' if r.steps_taken != 1 else ''}, {end}"
            f"{_where(run, line)}")


def uneven_steps(run: Run) -> list[Diagnosis]:
    """NBG953: the ranks did not take the same number of steps, or did not end the same way."""
    ranks = run.ranks if len(run.ranks) >= 2 else []
    if not ranks:
        return []
    counts = {r.steps_taken for r in ranks}
    # ranks that all raised the same error at the same line ended alike: the error says it all
    ends = {(r.stopped_by, r.error.type if r.error else None,
             r.stop_line if r.stopped_by == "error" else None) for r in ranks}
    if all(r.reported for r in ranks) and len(counts) == 1 and len(ends) == 1:
        return []
    if all(r.reported and r.stopped_by == "interrupt" for r in ranks):
        return []  # the user stopped the job (Ctrl-C reaches every rank): no rank left behind
    # the first rank to leave the common path: one that raised, timed out, was interrupted, or
    # whose loop ended while others went on (their errors then come from waiting for it)
    early = [r for r in ranks if r.reported
             and r.stopped_by in ("error", "interrupt", "timeout", "finished")]
    cause = min(early, key=lambda r: r.ended_at) if early else None
    if cause is not None and cause.stopped_by == "finished":
        cause = None  # a loop that ran out of batches: said as uneven steps below
    evidence = [Evidence(_rank_words(run, r), float(r.steps_taken)) for r in ranks]
    evidence += [Evidence(f"rank {r.rank} was waiting in: {' <- '.join(reversed(r.stuck.frames))}",
                          r.stuck.waited_s) for r in ranks if r.stuck is not None]
    stuck = [r for r in ranks if r.stuck is not None]
    if len(stuck) == len(ranks):
        places = ", ".join(f"rank {r.rank}{_where(run, r.stuck.line)}" for r in stuck)  # type: ignore[union-attr]
        return [make("NBG953", severity="error",
            title=f"Every rank is stuck waiting for the others ({places}): a deadlock",
            evidence=evidence,
            why=("Each rank waits inside a collective (an all-reduce, a barrier) that the other "
                 "ranks never join, because they wait in another one: none of them can go on, "
                 "until the collective's timeout (30 minutes for gloo and NCCL by default)."),
            fix=("Make every rank call the same collectives in the same order: the same number "
                 "of steps (DistributedSampler(dataset, drop_last=True)), and no barrier(), "
                 "all_reduce() or backward() that only some ranks reach."),
            line=stuck[0].stuck.line, confidence=0.9)]  # type: ignore[union-attr]
    if cause is not None:
        what = ENDS[cause.stopped_by or "error"]
        if cause.error is not None:
            what = f"raised {cause.error.type}"
        title = (f"Rank {cause.rank} {what} after {cause.steps_taken} "
                 f"step{'s' if cause.steps_taken != 1 else ''}: the other ranks cannot go on "
                 "without it")
        why = ("A training job moves in lockstep: DDP's all-reduce in backward() waits until every "
               "rank has joined. Once one rank is gone the others wait for it until the "
               "collective's timeout (30 minutes for gloo and NCCL by default), so nbgrad stopped "
               "them and reports where each one was.")
        fix = (f"Fix what ended rank {cause.rank} (its error is shown above, with its line); the "
               "other ranks' errors, if any, come from waiting for it.")
        line = cause.stop_line or (cause.error.line if cause.error else None)
    else:
        ended = [r for r in ranks if r.reported and r.stopped_by == "finished"]
        fewer = min(ended or [r for r in ranks if r.reported], key=lambda r: r.steps_taken,
                    default=None)
        title = "Ranks took different numbers of optimizer steps: the job would hang"
        if fewer is not None and fewer.stopped_by == "finished":
            title = (f"Rank {fewer.rank}'s loop ended after {fewer.steps_taken} optimizer steps "
                     "while the other ranks went on: they would wait for it forever")
        elif fewer is not None:
            more = max((r for r in ranks if r.reported), key=lambda r: r.steps_taken)
            if more.steps_taken != fewer.steps_taken:
                title = (f"Rank {fewer.rank} took {fewer.steps_taken} optimizer steps and rank "
                         f"{more.rank} {more.steps_taken}: the job would hang")
        why = ("Every optimizer step of a DDP job is matched by an all-reduce on every rank; a "
               "rank that runs out of batches (or skips steps) leaves the others waiting in a "
               "collective that never completes, until its timeout.")
        fix = ("Give every rank the same number of batches: DistributedSampler(dataset, "
               "drop_last=True) splits the data evenly, and no step() or backward() may depend "
               "on the rank (`if rank == 0:` around training code). For inputs uneven on "
               "purpose, run the loop inside `with model.join():` (DDP's Join context manager).")
        line = None if fewer is None else (fewer.stop_line or _last_step_line(fewer))
    return [make("NBG953", severity="error", title=title, evidence=evidence, why=why, fix=fix,
                       line=line, confidence=0.95)]


# -- parameters that get no gradient under DDP ---------------------------------------------------------
def _without_grad(run: Run, module: DDPModule) -> tuple[list[str], list[str]]:
    """(params of the wrapped module with no gradient at the last step, at every step)."""
    learnable = [p for p in module.params if p in run.params and run.params[p].requires_grad]
    steps = run.steps
    if not steps:
        return [], []
    def missing(step: Any, p: str) -> bool:
        return p not in step.params or step.params[p].grad_norm is None
    last = [p for p in learnable if missing(steps[-1], p)]
    every = [p for p in learnable if all(missing(s, p) for s in steps)]
    return last, every


def _with_find_unused(run: Run, line: int | None) -> str:
    """The DistributedDataParallel(...) line with find_unused_parameters=True."""
    text = run.cell_line(line)
    if not text.endswith(")"):
        return "model = DistributedDataParallel(model, find_unused_parameters=True)"
    return (facts.with_keyword(text, "find_unused_parameters", "True")
            or text[:-1] + ", find_unused_parameters=True)")


def ddp_unused_parameters(run: Run) -> list[Diagnosis]:
    """NBG954: DDP expects a gradient for every parameter unless told otherwise."""
    ranks = _reported(run) or run.ranks[:1]
    modules = [m for r in ranks[:1] for m in r.ddp]
    errors = [r.error for r in ranks if r.error is not None and DDP_UNUSED_ERROR in r.error.message]
    if run.error is not None and DDP_UNUSED_ERROR in run.error.message:
        errors.insert(0, run.error)
    line = facts.line_matching(run, DDP_CALL)
    for module in modules:
        last, every = _without_grad(run, module)
        if not module.find_unused_parameters and (errors or last):
            evidence = [Evidence(f"{facts.names(last)} of '{module.name}' got no gradient at step "
                                 f"{len(run.steps) - 1}", float(len(last)))] if last else []
            if errors:
                evidence.insert(0, Evidence(f"{errors[0].type}: "
                                            f"{errors[0].message.splitlines()[0][:200]}", 1.0))
            else:
                evidence.append(Evidence("DDP raises 'Expected to have finished reduction in the "
                                         "prior iteration' at the next forward pass", 0.0))
            return [make("NBG954", severity="error",
                title=f"Parameters of '{module.name}' get no gradient, and DistributedDataParallel "
                      "waits for one",
                evidence=evidence,
                why=("DDP all-reduces each parameter's gradient once backward() produced it; a "
                     "parameter the loss does not reach never gets one, its all-reduce never "
                     "starts, and DDP refuses the next iteration."),
                fix=("Make the loss use every parameter (or remove the unused layers), freeze "
                     "them with requires_grad_(False) before wrapping, or pass "
                     "find_unused_parameters=True to DistributedDataParallel (it then searches "
                     "the graph for unused parameters at every step)."),
                fix_code=_with_find_unused(run, line),
                line=line, confidence=0.95, layers=sorted({run.params[p].layer for p in last}))]
        if module.find_unused_parameters and run.steps:
            if every:
                text = (f"{facts.names(every)} of '{module.name}' got no gradient at any of the "
                        f"{len(run.steps)} steps")
                title = (f"{len(every)} parameter{'s' if len(every) > 1 else ''} of "
                         f"'{module.name}' never get a gradient under DDP")
                fix = ("If they are unused on purpose, freeze them (requires_grad_(False)) or "
                       "remove them; DDP then needs no search for unused parameters.")
            else:
                text = (f"every parameter of '{module.name}' got a gradient at each of the "
                        f"{len(run.steps)} steps")
                title = "find_unused_parameters=True is not needed: every parameter gets a gradient"
                fix = ("Drop find_unused_parameters=True: DDP then skips a traversal of the "
                       "autograd graph at every step.")
            return [make("NBG954", severity="info", title=title, evidence=[Evidence(text, float(len(every)))],
                why=("With find_unused_parameters=True DDP walks the autograd graph after every "
                     "forward pass to find parameters that will get no gradient: a cost paid at "
                     "every step."),
                fix=fix, line=line, confidence=0.8,
                layers=sorted({run.params[p].layer for p in every if p in run.params}))]
    return []


# -- BatchNorm on a few examples per rank --------------------------------------------------------------
def batchnorm_small_rank_batch(run: Run) -> list[Diagnosis]:
    """NBG955: BatchNorm normalises over one rank's batch, which is small."""
    ranks = _reported(run)
    if len(ranks) < 2:
        return []
    calls = [(r.rank, c, c.batch_size) for r in ranks for c in r.batchnorm
             if "Sync" not in c.type and c.batch_size is not None
             and c.batch_size < BATCHNORM_RANK_BATCH]
    if not calls:
        return []
    layers = sorted({c.layer for _, c, _ in calls})
    rank, call, size = calls[0]
    assert size is not None
    return [make("NBG955", severity="info",
        title=f"BatchNorm normalises over {size} examples per rank "
              f"({facts.layer_names(layers)}): SyncBatchNorm would use all {len(run.ranks)} "
              "ranks' batches",
        evidence=[Evidence(f"'{call.layer}' ({call.type}) trained on a batch of {size} on rank "
                           f"{rank} at step {call.step}; {len(run.ranks)} ranks x {size} = "
                           f"{len(run.ranks) * size} examples per step in all", float(size),
                           call.layer, call.step)],
        why=("Under DDP each rank's BatchNorm computes its mean and variance from that rank's "
             f"batch only; below about {int(BATCHNORM_RANK_BATCH)} examples these statistics are "
             "noisy and the running averages used in eval mode no longer match training."),
        fix=("Convert the BatchNorm layers before wrapping the model: "
             "model = nn.SyncBatchNorm.convert_sync_batchnorm(model), then "
             "DistributedDataParallel(model); or use GroupNorm / LayerNorm."),
        fix_code="model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)",
        line=facts.line_matching(run, DDP_CALL), confidence=0.7, layers=layers)]


RULES = [parameters_differ, same_batches, uneven_steps, ddp_unused_parameters,
         batchnorm_small_rank_batch]

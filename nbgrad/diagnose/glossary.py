"""Plain words for everything a report shows: what each column and number means, what a healthy
value is (and who says so), and why each diagnosis matters, for a first-year student.

Declared once, beside the catalogue, and read by every renderer: tooltips in the dashboard, a
legend in the text and HTML reports. A term is looked up by the title its column has on screen,
so a table cannot show a header this file does not explain (tests/test_glossary.py checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from nbgrad import thresholds as T
from nbgrad.diagnose.catalogue import CATALOGUE, family
from nbgrad.numbers import fmt

Health = Literal["low", "high"]
HEALTH_WORD: dict[Health, str] = {"low": "very small", "high": "very large"}


@dataclass(frozen=True)
class Term:
    title: str  # as the column header (or the word) reads on screen
    meaning: str  # one line
    healthy: str = ""  # what a healthy value looks like, with its source; "" when none exists
    low: float | None = None  # below this, the value is unusual (said as a word, not only colour)
    high: float | None = None  # above this, the value is unusual

    def judge(self, value: float | None) -> Health | None:
        if value is None or value != value:  # NaN is said by the rules, not here
            return None
        if self.low is not None and abs(value) < self.low:
            return "low"
        if self.high is not None and abs(value) > self.high:
            return "high"
        return None

    def line(self) -> str:
        """`title: meaning; healthy: ...`, the legend's line."""
        return f"{self.title}: {self.meaning}" + (f" Healthy: {self.healthy}" if self.healthy else "")


_RATIO_LOW, _RATIO_HIGH = float(T.UPDATE_RATIO_HEALTHY_MIN), float(T.UPDATE_RATIO_LARGE)

_TERMS = [
    # -- layers and parameters -------------------------------------------------------------------
    Term("layer", "a part of your model that holds weights, named as you wrote it (model[0], "
                  "model.fc1)."),
    Term("parameter", "one tensor of weights the optimizer changes (a layer's .weight or .bias)."),
    Term("type", "the kind of layer (Linear, Conv2d, ...)."),
    Term("grad norm", "how strongly the loss pushes on this layer's weights: the size (norm) of "
                      "their gradient, all numbers of it taken together. 'no grad' means the loss "
                      "never reached this layer.",
         "no fixed value; layers of one model are usually within about 100x of each other. "
         "0 or 'no grad' means the layer cannot learn.", low=1e-12),
    Term("param norm", "how big this layer's weights are: the size (norm) of all its weights "
                       "taken together.",
         "it should change slowly from step to step; a sudden jump or a growth without end "
         "means the steps are too large."),
    Term("update norm", "how much this step changed the layer's weights (the size of the change)."
                        " 'not stepped' means no optimizer changed them.",
         "0 means the layer did not learn in this step."),
    Term("update/param", "how large this step was compared to the weights: 0.01 means the step "
                         "changed them by about 1 %.",
         f"about 0.001 (0.1 % per step; Karpathy, CS231n). Below {fmt(_RATIO_LOW)} the weights "
         f"barely move; above {fmt(_RATIO_HIGH)} (10 %) the steps are so large that training "
         "jumps around (thresholds of TheDeepChecker).", low=_RATIO_LOW, high=_RATIO_HIGH),
    Term("last update/param", "update/param at the last step that changed this parameter.",
         "about 0.001; see update/param.", low=_RATIO_LOW, high=_RATIO_HIGH),
    Term("zero grad frac", "the share of this layer's gradient numbers that are exactly 0 (those "
                           "weights got no push at all).",
         "near 0. Near 1 means most weights of the layer get no signal (dead ReLU units, or "
         "inputs that are 0).", high=0.9),
    Term("optimizer", "the optimizer (SGD, Adam, ...) that holds this parameter and changes it."),
    Term("moved?", "whether any recorded step changed this parameter, and if not, why not."),
    Term("why it did not move", "the reason no recorded step changed this parameter."),
    Term("updates that moved it", "in how many of the recorded steps this parameter changed."),
    Term("distance (sum of updates)", "how far the parameter travelled: the sizes of all its "
                                      "changes added up."),
    Term("state buffers before -> after", "what the optimizer remembers about this parameter "
                                          "between steps (momentum, running averages), before "
                                          "and after the recorded steps (advanced)."),
    # -- the loss --------------------------------------------------------------------------------
    Term("step", "one call of optimizer.step(): one change of the weights."),
    Term("loss (each backward call)", "the number your loss function returned, each time "
                                      "backward() was called in this step.",
         "it should go down over many steps; noise from batch to batch is normal."),
    Term("backward calls", "how many times backward() ran before this step (more than 1: the "
                           "gradients of several batches were added up)."),
    Term("lr per group", "the learning rate: how far each step moves the weights along the "
                         "gradient (one per parameter group)."),
    # -- activations -----------------------------------------------------------------------------
    Term("activation", "the function between layers (ReLU, sigmoid, tanh) whose output was "
                       "measured."),
    Term("saturated fraction", "the share of sigmoid/tanh outputs stuck at their flat ends, "
                               "where almost no gradient passes back.",
         f"below {fmt(float(T.SATURATED_SHARE))} (nbgrad's threshold; see docs/rules/NBG60.md).",
         high=float(T.SATURATED_SHARE)),
    Term("dead fraction", "the share of ReLU units that output 0 for every example of the "
                          "batch: they pass no gradient back and cannot recover on their own.",
         f"below {fmt(float(T.DEAD_SHARE))} (DeepDiagnosis, AUTOTRAINER).", high=float(T.DEAD_SHARE)),
    Term("mean slope", "how much of the gradient the activation passes back on average (its "
                       "slope). A sigmoid passes at most 0.25, tanh and ReLU up to 1.",
         "close to its maximum; a product of many small slopes makes the first layers learn "
         "very slowly."),
    # -- optimizer tables ------------------------------------------------------------------------
    Term("group", "a parameter group: parameters that share one learning rate and settings."),
    Term("hyperparameter", "a setting of the optimizer that you chose (or left at its default)."),
    Term("before", "the value before the recorded steps."),
    Term("after", "the value after the recorded steps."),
    Term("change", "'changed' when a scheduler or your code changed the value during the steps."),
    Term("state buffer", "a number the optimizer keeps per parameter between steps (advanced)."),
    # -- fixes tried -----------------------------------------------------------------------------
    Term("fix", "the diagnosis whose fix was tried (or all fixes together)."),
    Term("loss first → last", "the loss at the first and the last recorded step of that run."),
    Term("last loss", "the loss at the last recorded step."),
    Term("problems found", "the problems nbgrad still found when the corrected cell ran."),
    Term("result", "whether the fix helped: the problem is gone and the loss is lower."),
    Term("lr", "the learning rate: how far each step moves the weights along the gradient."),
    Term("chosen", "the learning rate suggested: the one that trained best in these steps."),
    # -- the ranks of a torchrun job ---------------------------------------------------------------
    Term("rank", "one process of a torchrun job (rank 0, rank 1, ...), each training a copy of "
                 "the model."),
    Term("steps", "how many optimizer steps this process took."),
    Term("ended", "how this process's run ended (its steps done, an error, stopped)."),
    Term("at line", "the line of the script the process was at when its run ended."),
    Term("loss first -> last", "this process's loss at its first and its last step."),
    Term("weights after last step", "a checksum of this process's weights after its last step: "
                                    "equal on every process when they train one model.",
         "the same on every rank."),
    Term("first batch (sum)", "a checksum of the first batch this process trained on: different "
                              "on each rank when each gets its own share of the data.",
         "different on every rank."),
    # -- other tables ----------------------------------------------------------------------------
    Term("after step", "the optimizer step after which the GradScaler skipped one."),
    Term("loss scale", "the factor the GradScaler multiplies the loss by (mixed precision)."),
    Term("inf/NaN gradient in", "the parameters whose gradient held inf or NaN."),
]

# words inside tables and summaries that are not column titles (hyperparameters, state buffers)
_WORDS = [
    Term("lr", "the learning rate: how far each step moves the weights along the gradient."),
    Term("step", "Adam's count of the steps it has taken (it corrects its averages early on)."),
    Term("dampening", "SGD: how much of the new gradient is left out of the momentum (0: none)."),
    Term("momentum", "SGD: how much of the previous steps' direction each step keeps (0.9 is "
                     "common)."),
    Term("nesterov", "SGD: a variant of momentum that looks one step ahead."),
    Term("weight_decay", "pulls every weight a little towards 0 at each step (regularisation)."),
    Term("betas", "Adam: how much the running averages of the gradient and of its square "
                  "remember (0.9, 0.999 are the defaults)."),
    Term("eps", "Adam: a tiny number added to avoid dividing by 0."),
    Term("amsgrad", "Adam: a variant that never lets the step size grow back."),
    Term("maximize", "when True, the optimizer climbs the loss instead of lowering it."),
    Term("exp_avg", "Adam's running average of the gradient (its 'momentum')."),
    Term("exp_avg_sq", "Adam's running average of the squared gradient (sets each weight's step "
                       "size)."),
    Term("momentum_buffer", "SGD's remembered direction of the previous steps."),
    Term("foreach", "an implementation switch (how fast, not what it computes)."),
    Term("logits", "the raw scores a classifier outputs before softmax; CrossEntropyLoss wants "
                   "these."),
    Term("broadcast", "PyTorch silently stretching two tensors of different shapes to one shape, "
                      "e.g. (32, 1) against (32,) gives (32, 32)."),
]

TERMS: dict[str, Term] = {t.title: t for t in _TERMS}
WORDS: dict[str, Term] = {t.title: t for t in _WORDS}
_STEP_HEADER = re.compile(r"^(step|manual update) \d+")


def term(title: str) -> Term | None:
    """The meaning of a column header as shown (`step 3 (opt_d)` reads as a step's gradient norm)."""
    found = TERMS.get(title)
    if found is not None:
        return found
    if _STEP_HEADER.match(title):
        return Term("step N", "the layer's gradient norm at that step (see grad norm).")
    return None


def word(text: str) -> Term | None:
    """The meaning of a word inside a table (a hyperparameter, a state buffer)."""
    return WORDS.get(text)


def legend(titles: list[str], words: list[str] | None = None) -> list[Term]:
    """The terms of these column titles and of the words the tables hold (betas, exp_avg), each
    once, in order (step columns as one entry)."""
    out: list[Term] = []
    for title in titles:
        found = term(title)
        if found is not None and all(found.meaning != t.meaning for t in out):
            out.append(found)
    for text in words or []:
        found = WORDS.get(text)
        if found is not None and all(found.meaning != t.meaning for t in out):
            out.append(found)
    return out


def percent(ratio: float) -> str:
    value = 100 * abs(ratio)
    if value < 0.001:
        return "less than 0.001 %"
    return f"about {value:.2g} %" if value < 10 else f"about {value:.0f} %"


def reading(title: str, value: float | None, where: str) -> str | None:
    """One number in words, when it is outside its healthy range: `update/param 0.039 on
    model[0] is high: this step changed its weights by about 3.9 % ...`; None when it is not."""
    found = term(title)
    if found is None or value is None:
        return None
    health = found.judge(value)
    if health is None:
        return None
    word = HEALTH_WORD[health]
    if title in ("update/param", "last update/param"):
        return (f"{title} {fmt(value)} on {where} is {word}: this step changed its weights by "
                f"{percent(value)}; a typical step changes them by about 0.1 %.")
    return f"{title} {fmt(value)} on {where} is {word}. Healthy: {found.healthy}"


# -- why each diagnosis matters --------------------------------------------------------------------
# Two sentences a first-year student understands: what goes wrong in training, and what you see.
WHY_IT_MATTERS: dict[str, str] = {
    "NBG001": "The check runs only the first few steps of your loop and then stops it. Lines after "
              "the loop (a print per epoch, an accuracy) did not run, so their output is missing.",
    "NBG101": "A model learns only from gradients, and here none reaches it. The loss is printed, "
              "but the weights never change, so the model stays exactly as it started.",
    "NBG102": "Some layers are cut off from the loss, so they get no gradient. They keep their "
              "random starting weights while the rest of the model tries to work around them.",
    "NBG103": "A layer made inside forward() gets brand-new random weights at every call. It can "
              "never learn, because whatever a step taught it is thrown away at the next one.",
    "NBG104": "A layer that never runs does not affect the output. Its weights cannot learn "
              "anything, and it may be a sign that the model does not run the way you think.",
    "NBG201": "optimizer.step() only changes the weights it was given. The model that computes "
              "your loss is not among them, so it never learns however long you train.",
    "NBG202": "The optimizer changes weights that play no part in your loss. Usually it was built "
              "on another (older) model than the one you train.",
    "NBG203": "Every weight is frozen (requires_grad=False), so nothing can learn. The loss stays "
              "where it starts.",
    "NBG301": "backward() adds the new gradient to the old one unless you clear it. Without "
              "zero_grad() every step uses the sum of all past gradients, so the steps grow and "
              "the loss can go down at first and then jump around or blow up.",
    "NBG302": "zero_grad() between backward() and step() erases the gradient just before it is "
              "used. The step then changes nothing, so the model does not learn.",
    "NBG303": "step() before backward() uses the gradient of the previous batch, or none at all. "
              "The model learns one step late, or not at all on the first step.",
    "NBG304": "Clearing gradients after step() is correct. This note only says nbgrad saw it.",
    "NBG305": "backward() computes the gradients, but only optimizer.step() changes the weights. "
              "Without it the model never learns.",
    "NBG401": "A learning rate of 0 means every step has size 0. The weights never change.",
    "NBG402": "With a tiny learning rate each step moves the weights by almost nothing. The loss "
              "falls so slowly that it looks stuck.",
    "NBG403": "With a too-large learning rate each step overshoots the minimum. The loss grows or "
              "jumps around instead of falling, and can end as NaN.",
    "NBG404": "Clipping limits how large a step may be; set too tight, every step is cut to almost "
              "nothing. The model then learns very slowly.",
    "NBG405": "Weight decay pulls the weights towards 0 at every step. When it pulls harder than "
              "the loss, the model forgets what it learns.",
    "NBG406": "A GradScaler skips every step whose gradients overflow. If it skips all of them, "
              "the model never changes.",
    "NBG407": "Clipping limits how big the gradients are before a step uses them. Done after "
              "step(), it changes gradients that were already used, so it protects nothing.",
    "NBG408": "A scheduler lowers the learning rate a little each time it is stepped. Stepped "
              "every batch instead of every epoch, it shrinks the rate so fast that learning stops.",
    "NBG409": "The loss is the data's error plus a penalty you added. When the penalty is much "
              "larger, the steps shrink the weights instead of fitting the data.",
    "NBG105": "round(), floor() and sign() are flat almost everywhere, so their slope is 0. A loss "
              "computed through them gives every weight a gradient of exactly 0, and nothing learns.",
    "NBG807": "BCELoss expects probabilities between 0 and 1, but it got raw scores. Add a sigmoid, or "
              "better, use BCEWithLogitsLoss, which takes the raw scores and is more stable.",
    "NBG808": "KLDivLoss expects its input as log-probabilities (log_softmax). Given plain probabilities "
              "or scores, it measures the wrong thing, so the model learns the wrong target.",
    "NBG809": "CTCLoss expects log-probabilities over the classes (log_softmax). Given raw scores, the "
              "loss is meaningless and training does not converge.",
    "NBG811": "A softmax should turn each sample's scores into probabilities over the classes. With dim=0 "
              "it compares samples of the batch with each other instead, so the model learns nonsense.",
    "NBG812": "Padding fills short sequences up to the same length; it is not real data. If the loss "
              "counts it, the model learns to predict padding instead of the real tokens.",
    "NBG813": "With reduction='sum' the loss, and so each step, grows with the batch size. A learning "
              "rate meant for an average then takes steps far too large.",
    "NBG814": "MSELoss and L1Loss measure how far numbers are from target numbers. Class labels are names "
              "of classes, not amounts, so a classifier needs CrossEntropyLoss.",
    "NBG861": "Each input must stay with its own label. Shuffled separately, the pairs are random, so the "
              "best the model can do is guess the most common label.",
    "NBG862": "The loop takes the same first batch at every step. The model memorises that one batch and "
              "never sees the rest of the data.",
    "NBG863": "When every batch holds a single class, each step pulls the model towards that class only. "
              "Shuffle the data so that each batch mixes classes.",
    "NBG864": "view() and reshape() keep the order of the values in memory; they do not swap axes. To "
              "reorder axes use permute() or transpose(), or the values get mixed up.",
    "NBG871": "An RNN reads (time, batch, features) unless batch_first=True. Given (batch, time, "
              "features), it treats samples as time steps and mixes the sequences.",
    "NBG501": "Each layer passes the gradient back to the one before it, shrinking it on the way. "
              "When it arrives almost empty, the first layers learn far slower than the last.",
    "NBG502": "Each layer passes the gradient back to the one before it, growing it on the way. "
              "The first layers then take huge steps and training becomes unstable.",
    "NBG503": "A NaN or Inf is 'not a number': once it appears it spreads to every weight. From "
              "then on the model outputs nonsense and cannot recover.",
    "NBG551": "When all units of a layer start with the same weights, they compute the same thing "
              "and get the same gradient. They stay copies of each other, so the layer works "
              "like a single unit.",
    "NBG552": "Starting weights that are far too large make the outputs huge. Activations then "
              "saturate and the first losses are very high, so training starts badly or not at all.",
    "NBG601": "A sigmoid or tanh stuck at its flat end passes almost no gradient back. The layers "
              "before it then barely learn.",
    "NBG602": "A ReLU unit that outputs 0 for every input passes no gradient back. It is 'dead': "
              "it no longer learns and does not come back by itself.",
    "NBG603": "Two linear layers with nothing between them are the same as one linear layer. "
              "Without an activation such as ReLU the model can only draw straight lines.",
    "NBG651": "In eval mode, dropout is off and BatchNorm uses fixed statistics. The model then "
              "trains differently from how you meant it to.",
    "NBG652": "BatchNorm normalises with the mean of the batch; with one example per batch there "
              "is nothing to average. Training breaks or becomes very noisy.",
    "NBG701": "The loss should fall when the model sees the same data again. If it does not, "
              "something stops the model from learning.",
    "NBG702": "A loss that keeps growing means each step makes the model worse. Training is "
              "running away, usually because the steps are too large.",
    "NBG703": "A loss that zigzags up and down means the steps overshoot the minimum. The model "
              "does not settle, usually because the learning rate is too large.",
    "NBG704": "An untrained classifier should guess about evenly, which gives a first loss near "
              "ln(number of classes). A much higher first loss means it starts confidently wrong, "
              "usually because the last layer's weights start too large.",
    "NBG711": "The loss falls, but the predictions move away from the targets. The loss rewards "
              "the wrong thing, so a falling loss means the model gets worse.",
    "NBG801": "CrossEntropyLoss applies softmax itself; giving it probabilities applies it twice. "
              "The gradients become tiny and the model learns very slowly.",
    "NBG802": "log_softmax before CrossEntropyLoss is applied twice, which does no harm. You can "
              "leave it out.",
    "NBG803": "NLLLoss expects log-probabilities (log_softmax). Given anything else, its loss "
              "does not measure how wrong the model is.",
    "NBG804": "When prediction and target have different shapes, PyTorch stretches them to fit "
              "(broadcasting). The loss then compares every prediction with every target, which "
              "has no meaning.",
    "NBG805": "A class label must be between 0 and the number of classes minus 1. A label outside "
              "that range crashes or, on a GPU, gives nonsense.",
    "NBG806": "BCE compares probabilities, so targets must be between 0 and 1. Other targets make "
              "the loss meaningless.",
    "NBG851": "Inputs with very large values (raw pixels 0-255) make the first layer's outputs "
              "huge. Steps become unstable or units die; scaling inputs to about -1..1 fixes it.",
    "NBG852": "Targets with very large values make the loss and its gradients huge. The model "
              "spends its steps chasing the scale instead of the pattern.",
    "NBG901": "backward() needs a loss that was computed from the model's weights. This one was "
              "not, so PyTorch cannot work out any gradient.",
    "NBG902": "PyTorch frees the record of the computation after backward(). A second backward() "
              "through the same computation finds it gone.",
    "NBG903": "backward() needs some tensors exactly as they were in the forward pass. Changing "
              "one in place (+=, relu_) destroys what it needs.",
    "NBG904": "PyTorch does not mix number types (float32, float64, int64) in one operation. "
              "Convert the data to the model's type, usually float32.",
    "NBG905": "A model on the GPU cannot read data on the CPU, or the other way round. Put both "
              "on the same device.",
    "NBG906": "A Linear layer expects a fixed number of input features. Your data has a "
              "different number, often because the images were not flattened.",
    "NBG907": "An optimizer can only change tensors you created as parameters. A computed tensor "
              "is rebuilt at every step, so changing it has no effect.",
    "NBG908": "CrossEntropyLoss wants one class number per example, shape (N,). Targets of shape "
              "(N, 1) must be squeezed first.",
    "NBG909": "loss.item() turns the loss into a plain Python number, which has no gradient. "
              "backward() must be called on the loss tensor itself.",
    "NBG910": "backward() needs a single number to start from. A loss with several values must be "
              "reduced first, usually with .mean().",
    "NBG951": "Each process of the job trains its own copy of the model, and the copies must stay "
              "identical. Here they drift apart, so the processes train different models.",
    "NBG952": "Every process trains on the same examples, so using several processes gives no "
              "extra data. Each one should get its own share (DistributedSampler).",
    "NBG953": "The processes must take their steps together, since each step waits for all of "
              "them. One that stops early or raises leaves the others waiting for ever.",
    "NBG954": "DistributedDataParallel waits for a gradient of every parameter. Parameters that "
              "get none make it wait or fail.",
    "NBG955": "BatchNorm averages over the examples of one process only. With few examples per "
              "process the averages are noisy, and training suffers.",
    "NBG911": "A loss compares the model's output with the target, number by number, so both must "
              "have the same shape. PyTorch warned that they do not, and the computation then failed.",
}

DOCS = "docs/rules"


def docs_page(code: str) -> str:
    """The page in nbgrad's docs that explains the family of `code`, e.g. docs/rules/NBG3.md."""
    return f"{DOCS}/{family(code).prefix}.md"


def why_it_matters(code: str) -> str:
    return WHY_IT_MATTERS.get(code, "")


def undocumented() -> list[str]:
    """Codes of the catalogue without their plain-words explanation (a test keeps this empty)."""
    return [code for code in CATALOGUE if code not in WHY_IT_MATTERS]


__all__ = ["DOCS", "TERMS", "WHY_IT_MATTERS", "WORDS", "Term", "docs_page", "legend", "reading",
           "term", "undocumented", "why_it_matters", "word"]

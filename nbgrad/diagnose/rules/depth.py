"""Gradients across depth: vanishing or exploding from the last layer to the first, with the cause
that the forward pass shows (saturating activations, initialisation scale)."""

from __future__ import annotations

import math

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence, Severity
from nbgrad.diagnose.facts import WeightLayer, fmt
from nbgrad.records import ActivationRecord, LayerInfo, Run
from nbgrad.thresholds import (
    ACTIVATION_SHRINK,
    EXPLODE_RATIO,
    INIT_GAIN_HIGH,
    INIT_GAIN_LOW,
    SHRINK_NOTE_RATIO,
    VANISH_RATIO,
)


def gradients_across_depth(run: Run) -> list[Diagnosis]:
    layers = facts.weight_layers(run)
    if len(layers) < 2 or not run.forward.windows:
        return []
    first, last = layers[0], layers[-1]
    ratios = facts.rms_ratios(run, first, last)
    if not ratios or ratios[0][1] == 0:
        return []  # no gradient at all is the wiring rules' finding, not a depth effect
    ratio = ratios[0][1]  # at the first step: how the initialised network passes gradients back
    if ratio >= EXPLODE_RATIO:
        return [_exploding(run, layers, ratios)]
    if ratio >= SHRINK_NOTE_RATIO:
        return []
    step = run.forward.windows[0]
    squashing: list[tuple[ActivationRecord, float]] = [
        (a, a.mean_slope) for a in facts.activations_between(run, first.layer, last.layer, step)
        if a.kind in ("sigmoid", "tanh") and a.mean_slope is not None]
    product = math.prod(slope for _, slope in squashing)
    small = [(w, g) for w in layers if (g := facts.init_gain(run, w)) is not None and g < INIT_GAIN_LOW]
    by_activations = bool(squashing) and product <= ACTIVATION_SHRINK
    if ratio > VANISH_RATIO and not (by_activations or small):
        return []
    trends = facts.loss_trends(run)
    falling = bool(trends) and all(t.falling for t in trends)
    step0 = ratios[0][0]
    shrink = 1 / ratio
    evidence = [Evidence(
        f"at step {step0}, per weight (gradient norm / sqrt(number of weights)) '{first.layer}' "
        f"gets {shrink:.0f}x smaller gradients than '{last.layer}'", ratio, first.layer, step0)]
    evidence += _per_layer(run, layers, step0)
    if len(ratios) > 1:
        last_step, last_ratio = ratios[-1]
        said = (f"{1 / last_ratio:.0f}x smaller per weight" if last_ratio > 0 else
                f"no gradient at all reached '{first.layer}'")  # the squashing saturated fully
        evidence.append(Evidence(f"at step {last_step}: {said}", last_ratio, first.layer, last_step))
    causes = []
    if by_activations:
        slopes = ", ".join(f"{facts.describe(a)}: mean slope {slope:.3g}" for a, slope in squashing)
        evidence.append(Evidence(
            f"the gradient passes {len(squashing)} squashing activation(s) between them, which "
            f"multiply it by their slope ({slopes}; product {product:.3g})", product))
        kinds = sorted({a.kind for a, _ in squashing})
        causes.append(f"the {' and '.join(kinds)} activations: a sigmoid's slope is at most 0.25, "
                      "so each one passes at most a quarter of the gradient back")
    for w, gain in small:
        evidence.append(Evidence(
            f"'{w.layer}': weight std x sqrt(fan_in) = {gain:.3g} (LeCun init: 1; PyTorch's default: "
            f"0.58)", gain, w.layer))
        causes.append(f"the small initial weights of '{w.layer}'")
    evidence += [Evidence(t.text(), t.last) for t in trends]
    severity: Severity
    # a warning needs the shrink's cause measured: a gap between, say, an attention projection
    # and the output layer, with no squashing activation or small weights between, is not one
    if ratio <= VANISH_RATIO and causes:
        severity = "warning"
        title = (f"Vanishing gradients: '{first.layer}' gets {shrink:.0f}x smaller gradients per "
                 f"weight than '{last.layer}'")
    else:
        severity = "info"
        title = (f"Gradients per weight shrink {shrink:.0f}x from '{last.layer}' back to "
                 f"'{first.layer}'" + (", but the loss still falls" if falling else ""))
    why = (f"Each layer's gradient is the next layer's multiplied by the slopes on the way back: "
           f"{'; '.join(causes) if causes else 'the gradient shrinks at every layer'}. "
           f"'{first.layer}' therefore learns about {shrink:.0f}x slower than '{last.layer}'")
    if falling and severity == "info":
        why += (f". At this depth training still works ({'; '.join(t.text() for t in trends)}); "
                "with more such layers the first ones would stop learning.")
    elif not causes:
        why += ("; no cause was measured (no squashing activations or small initial weights "
                "between them), so this may be how these layers are used rather than depth.")
    else:
        why += "; stacked deeper, the first layers stop learning altogether."
    line = None
    fix = []
    if by_activations:
        line = facts.module_line(run, squashing[0][0])
        fix.append("use ReLU (F.relu / nn.ReLU) or GELU between the hidden layers instead of "
                   f"{' / '.join(sorted({a.kind for a, _ in squashing}))}; keep a sigmoid only at the "
                   "output if you need probabilities (better: BCEWithLogitsLoss on the raw output)")
    if small:
        fix.append("drop the custom initialisation (PyTorch's default is fine) or use "
                   "nn.init.kaiming_normal_(layer.weight, nonlinearity='relu')")
        line = facts.init_line(run) or line  # the initialisation, when one line sets it
    if not fix:
        fix.append("add normalisation (nn.LayerNorm / nn.BatchNorm1d) between layers, or residual "
                   "connections, and use He init: nn.init.kaiming_normal_(w, nonlinearity='relu')")
    fix_code = None
    if line is not None and squashing and squashing[0][0].source == "function":
        text = run.cell_line(line)
        kind = squashing[0][0].kind
        replaced = text.replace(f"F.{kind}(", "F.relu(").replace(f"torch.{kind}(", "torch.relu(")
        fix_code = replaced if replaced != text else None
    return [make(
        "NBG501", severity=severity, title=title,
        evidence=evidence, why=why, fix=facts.sentence("; ".join(fix)), fix_code=fix_code,
        line=line, confidence=0.9 if causes else 0.6, layers=[first.layer, last.layer],
        consequence_of=["NBG551"])]  # identical units pass identical, shrinking gradients


def _per_layer(run: Run, layers: list[WeightLayer], step: int) -> list[Evidence]:
    """Each weighted layer's gradient norm as the tables show it, its size, and the two per weight."""
    out = []
    for w in layers:
        norm = facts.layer_grad_norm(run, w.layer, step)
        rms = facts.grad_rms(run, w).get(step)
        if norm is not None and rms is not None:
            out.append(Evidence(f"'{w.layer}': gradient norm {fmt(norm)} at step {step}, over "
                                f"{w.numel} weights: {fmt(rms)} per weight", norm, w.layer, step))
    return out


def _exploding(run: Run, layers: list[WeightLayer], ratios: list[tuple[int, float]]) -> Diagnosis:
    first, last = layers[0], layers[-1]
    step, ratio = ratios[0]
    large = [(w, g) for w in layers
             if (g := facts.init_gain(run, w)) is not None and g > INIT_GAIN_HIGH]
    evidence = [Evidence(
        f"at step {step}, per weight (gradient norm / sqrt(number of weights)) '{first.layer}' "
        f"gets {ratio:.0f}x larger gradients than '{last.layer}'", ratio, first.layer, step)]
    evidence += _per_layer(run, [first, last], step)
    for w, gain in large:
        evidence.append(Evidence(
            f"'{w.layer}': weight std x sqrt(fan_in) = {gain:.3g}, {gain:.1f}x LeCun's init", gain,
            w.layer))
    order = run.forward.order
    lo, hi = order.index(first.layer), order.index(last.layer)
    norms = [name for name in order[lo:hi] if "BatchNorm" in run.layers.get(
        name, LayerInfo(name, "", [], True)).type]
    causes = []
    if large:
        causes.append(f"the large initial weights of {', '.join(repr(w.layer) for w, _ in large)} "
                      "multiply the gradient at every layer")
    if len(norms) >= 2:
        evidence.append(Evidence(f"the gradient passes {len(norms)} BatchNorm layers between them",
                                 len(norms)))
        causes.append(f"a deep stack of {len(norms)} BatchNorm layers without skip connections "
                      "amplifies the gradient at each layer (Yang et al., ICLR 2019)")
    cause = "; ".join(causes) or "the gradient grows at every layer going back"
    return make(
        "NBG502", severity="warning",
        title=f"Exploding gradients: '{first.layer}' gets {ratio:.0f}x larger gradients per weight "
              f"than '{last.layer}'",
        evidence=evidence,
        why=f"{facts.capital(cause)}; the early layers take steps far too large for their weights "
            "while the last ones barely move, and the loss becomes unstable.",
        fix=("Add skip connections (return x + block(x)) or use fewer layers; " if norms else
             "Use PyTorch's default initialisation or nn.init.kaiming_normal_ instead of large "
             "weights; ") + "clip gradients with torch.nn.utils.clip_grad_norm_(model.parameters(), "
            "1.0) before optimizer.step().",
        confidence=0.8 if causes else 0.6, layers=[first.layer, last.layer])

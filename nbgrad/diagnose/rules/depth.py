"""Gradients across depth: vanishing or exploding from the last layer to the first, with the cause
that the forward pass shows (saturating activations, initialisation scale)."""

from __future__ import annotations

import math

from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.rules.forward_facts import (
    activations_between,
    describe,
    grad_rms,
    init_gain,
    loss_trend,
    module_line,
    rms_ratios,
    weight_layers,
)
from nbgrad.records import LayerInfo, Run
from nbgrad.thresholds import (
    ACTIVATION_SHRINK,
    EXPLODE_RATIO,
    INIT_GAIN_HIGH,
    INIT_GAIN_LOW,
    SHRINK_NOTE_RATIO,
    VANISH_RATIO,
)


def gradients_across_depth(run: Run) -> list[Diagnosis]:
    layers = weight_layers(run)
    if len(layers) < 2 or not run.forward.windows:
        return []
    first, last = layers[0], layers[-1]
    ratios = rms_ratios(run, first, last)
    if not ratios or ratios[0][1] == 0:
        return []  # no gradient at all is the wiring rules' finding, not a depth effect
    ratio = ratios[0][1]  # at the first step: how the initialised network passes gradients back
    if ratio >= EXPLODE_RATIO:
        return [_exploding(run, layers, ratios)]
    if ratio >= SHRINK_NOTE_RATIO:
        return []
    step = run.forward.windows[0]
    squashing = [a for a in activations_between(run, first.layer, last.layer, step)
                 if a.kind in ("sigmoid", "tanh") and a.mean_slope is not None]
    product = math.prod(a.mean_slope for a in squashing)  # type: ignore[misc]
    small = [(w, g) for w in layers if (g := init_gain(run, w)) is not None and g < INIT_GAIN_LOW]
    by_activations = bool(squashing) and product <= ACTIVATION_SHRINK
    if ratio > VANISH_RATIO and not (by_activations or small):
        return []
    trend = loss_trend(run)
    step0 = ratios[0][0]
    evidence = [Evidence(
        f"per-entry gradient size (RMS) of '{first.layer}' is {ratio:.3g} x that of '{last.layer}' at "
        f"step {step0}: {1 / ratio:.0f}x smaller", ratio, first.layer, step0)]
    for w in layers:
        rms = grad_rms(run, w).get(step0)
        if rms is not None:
            evidence.append(Evidence(f"'{w.layer}': gradient RMS {rms:.3g} at step {step0}", rms,
                                     w.layer, step0))
    if len(ratios) > 1:
        evidence.append(Evidence(f"at step {ratios[-1][0]} the ratio is {ratios[-1][1]:.3g}",
                                 ratios[-1][1], first.layer, ratios[-1][0]))
    causes = []
    if by_activations:
        slopes = ", ".join(f"{describe(a)}: mean slope {a.mean_slope:.3g}" for a in squashing)
        evidence.append(Evidence(
            f"the gradient passes {len(squashing)} squashing activation(s) between them, which "
            f"multiply it by their slope ({slopes}; product {product:.3g})", product))
        kinds = sorted({a.kind for a in squashing})
        causes.append(f"the {' and '.join(kinds)} activations: a sigmoid's slope is at most 0.25, "
                      "so each one passes at most a quarter of the gradient back")
    for w, gain in small:
        evidence.append(Evidence(
            f"'{w.layer}': weight std x sqrt(fan_in) = {gain:.3g} (LeCun init: 1; PyTorch's default: "
            f"0.58)", gain, w.layer))
        causes.append(f"the small initial weights of '{w.layer}'")
    if trend is not None:
        evidence.append(Evidence(trend.text(), trend.last))
    if ratio <= VANISH_RATIO:
        severity = "warning"
        title = (f"Vanishing gradients: '{first.layer}' gets {1 / ratio:.0f}x smaller gradients "
                 f"than '{last.layer}'")
    else:
        severity = "info"
        title = (f"Gradients shrink {1 / ratio:.0f}x from '{last.layer}' back to '{first.layer}'"
                 + (", but the loss still falls" if trend is not None and trend.falling else ""))
    why = (f"Each layer's gradient is the next layer's multiplied by the slopes on the way back: "
           f"{'; '.join(causes) if causes else 'the gradient shrinks at every layer'}. "
           f"'{first.layer}' therefore learns about {1 / ratio:.0f}x slower than '{last.layer}'")
    if trend is not None and trend.falling and severity == "info":
        why += (f". At this depth training still works ({trend.text()}); with more such layers "
                "the first ones would stop learning.")
    else:
        why += "; stacked deeper, the first layers stop learning altogether."
    line = None
    fix = []
    if by_activations:
        line = module_line(run, squashing[0])
        fix.append("use ReLU (F.relu / nn.ReLU) or GELU between the hidden layers instead of "
                   f"{' / '.join(sorted({a.kind for a in squashing}))}; keep a sigmoid only at the "
                   "output if you need probabilities (better: BCEWithLogitsLoss on the raw output)")
    if small:
        fix.append("drop the custom initialisation (PyTorch's default is fine) or use "
                   "nn.init.kaiming_normal_(layer.weight, nonlinearity='relu')")
    if not fix:
        fix.append("add normalisation (nn.LayerNorm / nn.BatchNorm1d) between layers, or residual "
                   "connections, and use He init: nn.init.kaiming_normal_(w, nonlinearity='relu')")
    fix_code = None
    if line is not None and squashing and squashing[0].source == "function":
        text = run.cell_line(line)
        replaced = text.replace(f"F.{squashing[0].kind}(", "F.relu(").replace(
            f"torch.{squashing[0].kind}(", "torch.relu(")
        fix_code = replaced if replaced != text else None
    return [Diagnosis(
        code="NBG501", slug="vanishing-gradients", severity=severity, title=title,  # type: ignore[arg-type]
        evidence=evidence, why=why, fix=_sentence("; ".join(fix)), fix_code=fix_code,
        line=line, confidence=0.9 if causes else 0.6, layers=[first.layer, last.layer])]


def _exploding(run: Run, layers: list, ratios: list[tuple[int, float]]) -> Diagnosis:
    first, last = layers[0], layers[-1]
    step, ratio = ratios[0]
    large = [(w, g) for w in layers if (g := init_gain(run, w)) is not None and g > INIT_GAIN_HIGH]
    evidence = [Evidence(
        f"per-entry gradient size (RMS) of '{first.layer}' is {ratio:.3g}x that of '{last.layer}' "
        f"at step {step}", ratio, first.layer, step)]
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
    return Diagnosis(
        code="NBG502", slug="exploding-gradients", severity="warning",
        title=f"Exploding gradients: '{first.layer}' gets {ratio:.0f}x larger gradients than "
              f"'{last.layer}'",
        evidence=evidence,
        why=f"{_sentence(cause)[:-1]}; the early layers take steps far too large for their weights "
            "while the last ones barely move, and the loss becomes unstable.",
        fix=("Add skip connections (return x + block(x)) or use fewer layers; " if norms else
             "Use PyTorch's default initialisation or nn.init.kaiming_normal_ instead of large "
             "weights; ") + "clip gradients with torch.nn.utils.clip_grad_norm_(model.parameters(), "
            "1.0) before optimizer.step().",
        confidence=0.8 if causes else 0.6, layers=[first.layer, last.layer])


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."

"""Give modules, parameters and optimizers the names the user knows them by.

Names come from the user's namespace after the cell: `model.encoder.0.weight` is reported as
`encoder.0.weight` when one model is involved and with the variable's name in front when several are
(a GAN's `G.fc.weight` and `D.fc.weight`). Modules that ran but that no name reaches (built inside
a function) are named by their class. Wrappers that only hold the real model (`nn.DataParallel`'s
`module.`, `torch.compile`'s `_orig_mod.`) are left out of names; the full name stays as an alias.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class Names:
    modules: dict[int, str] = field(default_factory=dict)  # id(module) -> qualified name
    module_objects: dict[int, nn.Module] = field(default_factory=dict)
    params: dict[int, str] = field(default_factory=dict)  # id(param) -> qualified name
    aliases: dict[int, list[str]] = field(default_factory=dict)
    owner: dict[int, str] = field(default_factory=dict)  # id(param) -> layer name
    module_aliases: dict[int, list[str]] = field(default_factory=dict)  # id(module) -> full names
    containers: dict[int, str] = field(default_factory=dict)  # id(module) -> plain list/dict holding it
    # id(module or param) -> the name as the user writes it in Python (`model[0]`, `model.fc1`)
    written: dict[int, str] = field(default_factory=dict)
    previously: dict[int, str] = field(default_factory=dict)  # id(param) -> the name its model had


def as_written(root: str, path: str) -> str:
    """`model` and `encoder.0.fc` as Python spells it: `model.encoder[0].fc` (a Sequential's or
    ModuleList's children are indexed, a ModuleDict's keys that are no identifier quoted)."""
    out = root
    for part in path.split(".") if path else []:
        quote = '"' if "'" in part else "'"
        out += f"[{part}]" if part.isdigit() else f".{part}" if part.isidentifier() \
            else f"[{quote}{part}{quote}]"
    return out


def bindings(namespace: Mapping[str, Any]) -> list[tuple[str, nn.Module]]:
    """The models the namespace names now: kept before a cell runs, so that parameters of a model
    the cell re-creates are named by the variable that held them (`model`, the old one)."""
    return [(name, value) for name, value in list(namespace.items())
            if not name.startswith("_") and _is(value, nn.Module)]


WRAPPER_CHILDREN = ("module", "_orig_mod")  # DataParallel and DDP's `module`, torch.compile's


def _wrapped(module: nn.Module) -> str | None:
    """The attribute under which a pure wrapper holds the model (None: not a wrapper)."""
    children = list(module.named_children())
    if len(children) != 1 or children[0][0] not in WRAPPER_CHILDREN:
        return None
    if next(nn.Module.parameters(module, recurse=False), None) is not None:
        return None
    return children[0][0]


def short_name(full: str, wrappers: set[str]) -> str:
    """`module._orig_mod.fc` -> `fc` when `module` and `module._orig_mod` are wrappers."""
    parts = full.split(".") if full else []
    kept = [p for i, p in enumerate(parts) if ".".join(parts[:i]) not in wrappers
            or p not in WRAPPER_CHILDREN]
    return ".".join(kept)


def _wrapper_paths(root: nn.Module) -> set[str]:
    """Qualified names (relative to root, '' for root) of the wrappers on the way to the model."""
    paths: set[str] = set()
    path, module = "", root
    while (child := _wrapped(module)) is not None:
        paths.add(path)
        path = f"{path}.{child}" if path else child
        module = getattr(module, child)
    return paths


def _is(value: object, kinds: type | tuple[type, ...]) -> bool:
    """isinstance() for anything in a user's namespace: a proxy whose `__class__` raises is
    simply not one of ours."""
    try:
        return isinstance(value, kinds)
    except Exception:  # the user's object, not nbgrad's bug
        return False


def _roots(namespace: Mapping[str, Any], wanted_params: set[int], wanted_modules: set[int]
           ) -> list[tuple[str, nn.Module]]:
    """Namespace modules that hold something recorded, minus those inside another such module."""
    candidates: list[tuple[str, nn.Module]] = []
    seen: set[int] = set()
    for name, value in list(namespace.items()):
        if name.startswith("_") or not _is(value, nn.Module) or id(value) in seen:
            continue
        seen.add(id(value))
        modules = {id(m) for m in value.modules()}
        params = {id(p) for p in value.parameters()}
        if modules & wanted_modules or params & wanted_params:
            candidates.append((name, value))
    inner: set[int] = set()
    for _, root in candidates:
        inner.update(id(m) for m in root.modules() if m is not root)
    return [(n, m) for n, m in candidates if id(m) not in inner]


def _in_plain_containers(names: Names) -> dict[int, tuple[str, str]]:
    """Modules kept in a plain list, tuple or dict attribute of a named module (not a ModuleList).

    id(module) -> (its name, e.g. "model.layers[0]", and the container's, "model.layers").
    """
    out: dict[int, tuple[str, str]] = {}
    for mid, module in list(names.module_objects.items()):
        owner = names.modules[mid]
        for attr, value in vars(module).items():
            if attr.startswith("_"):
                continue
            if isinstance(value, dict):
                items = list(value.items())
            elif isinstance(value, (list, tuple)):
                items = list(enumerate(value))
            else:
                continue
            for key, item in items:
                if isinstance(item, nn.Module):
                    out.setdefault(id(item), (f"{owner}.{attr}[{key!r}]", f"{owner}.{attr}"))
    return out


def _unreachable_roots(modules: list[nn.Module], reachable: set[int],
                       held: dict[int, tuple[str, str]]) -> list[tuple[str, nn.Module]]:
    """Modules that ran but no namespace name reaches, outermost only.

    Those kept in a plain list or dict attribute are named by it; the others by their class.
    """
    loose = [m for m in modules if id(m) not in reachable]
    inner = {id(c) for m in loose for c in m.modules() if c is not m}
    counts: dict[str, int] = {}
    roots = []
    for module in loose:
        if id(module) in inner:
            continue
        if id(module) in held:
            roots.append((held[id(module)][0], module))
            continue
        kind = type(module).__name__
        counts[kind] = counts.get(kind, 0) + 1
        roots.append((kind if counts[kind] == 1 else f"{kind}#{counts[kind]}", module))
    return roots


def resolve(namespace: Mapping[str, Any], params: Iterable[torch.Tensor],
            modules: Iterable[nn.Module], optimizers: list[torch.optim.Optimizer],
            earlier: list[tuple[str, nn.Module]] | None = None) -> Names:
    params = list(params)
    modules = list(modules)
    names = Names()
    roots = _roots(namespace, {id(p) for p in params}, {id(m) for m in modules})
    reachable = {id(m) for _, root in roots for m in root.modules()}
    prefix = sum(1 for _, root in roots if next(iter(root.parameters()), None) is not None) > 1
    _name_modules(names, roots, prefix)
    held = _in_plain_containers(names)
    _name_modules(names, _unreachable_roots(modules, reachable, held), prefix=True)
    names.containers = {mid: held[mid][1] for mid in names.modules if mid in held}
    tensors = {id(v): k for k, v in namespace.items()
               if _is(v, torch.Tensor) and not k.startswith("_")}
    stepped = {id(p) for optimizer in optimizers for g in optimizer.param_groups for p in g["params"]}
    _name_earlier(names, earlier or [], stepped)
    for oi, optimizer in enumerate(optimizers):
        for gi, group in enumerate(optimizer.param_groups):
            for pi, param in enumerate(group["params"]):
                if id(param) not in names.params:
                    owner = object_name(namespace, optimizer, f"optimizer {oi}")
                    where = f"group {gi}, " if len(optimizer.param_groups) > 1 else ""
                    label = tensors.get(id(param)) or (
                        f"{owner}'s {where}param {pi} (not in a named model)")
                    names.params[id(param)] = label
                    names.owner[id(param)] = label
    for param in params:
        if id(param) not in names.params:
            label = tensors.get(id(param)) or f"(tensor {tuple(param.shape)})"
            names.params[id(param)] = label
            names.owner[id(param)] = label
    return names


def _name_earlier(names: Names, earlier: list[tuple[str, nn.Module]], held: set[int]) -> None:
    """Models bound before the cell that no name reaches now, but whose parameters an optimizer
    holds: the cell re-created `model` after the optimizer was built on the old one. Their layers
    are named `model[0] (old)` and their parameters `model[0].weight (old)`."""
    for root_name, root in earlier:
        if id(root) in names.modules or not any(id(p) in held for p in root.parameters()):
            continue
        for qual, module in root.named_modules():
            if id(module) in names.modules:
                continue
            full = f"{as_written(root_name, qual)} (old)"
            names.modules[id(module)] = full
            names.module_objects[id(module)] = module
            for pname, param in module.named_parameters(recurse=False):
                if id(param) not in names.params:
                    names.params[id(param)] = f"{as_written(root_name, qual)}.{pname} (old)"
                    names.owner[id(param)] = full
                    names.previously[id(param)] = root_name


def _name_modules(names: Names, roots: list[tuple[str, nn.Module]], prefix: bool) -> None:
    """Name every module under `roots` (and its own parameters) unless it is named already.

    Pure wrappers (DataParallel's `module`, torch.compile's `_orig_mod`) are left out of the names;
    the full path stays available as an alias.
    """
    for root_name, root in roots:
        wrappers = _wrapper_paths(root)
        for qual, module in root.named_modules(remove_duplicate=False):
            short = short_name(qual, wrappers)
            full = ".".join(x for x in (root_name if prefix else "", short) if x) or root_name
            long = ".".join(x for x in (root_name if prefix else "", qual) if x) or root_name
            if (qual in wrappers and qual) or id(module) in names.modules:
                continue  # an inner wrapper (its model gets the name), or named already
            names.modules[id(module)] = full
            names.module_objects[id(module)] = module
            written = as_written(root_name, short) if root_name.isidentifier() else full
            names.written[id(module)] = written
            if long != full:
                names.module_aliases[id(module)] = [long]
            for pname, param in nn.Module.named_parameters(module, recurse=False):
                pfull = f"{full}.{pname}"
                if id(param) in names.params:
                    names.aliases.setdefault(id(param), []).append(pfull)
                    continue
                names.params[id(param)] = pfull
                names.owner[id(param)] = full
                names.written[id(param)] = f"{written}.{pname}"
                if long != full:
                    names.aliases.setdefault(id(param), []).append(f"{long}.{pname}")


def object_name(namespace: Mapping[str, Any], obj: object, fallback: str) -> str:
    """The namespace name of `obj`, or of what holds it: `opt` for accelerate's wrapped optimizer
    (`opt.optimizer`), `trainer.optimizers[0]` for Lightning, `trainer.optimizer` for HF."""
    for name, value in namespace.items():
        if value is obj and not name.startswith("_"):
            return name
    for name, value in namespace.items():
        if name.startswith("_") or _is(value, _NOT_HOLDERS) or callable(value):
            continue
        found = _held(value, obj, name, depth=2)
        if found:
            return found
    return fallback


_NOT_HOLDERS = (type, types.ModuleType, torch.Tensor, nn.Module, str, bytes, int, float)


def _attribute(value: Any, name: str) -> Any:
    try:
        return getattr(value, name, None)
    except Exception:  # a property that cannot answer now
        return None


def _held(value: Any, obj: object, name: str, depth: int) -> str | None:
    """`name.optimizer`, `name.optimizer.optimizer` or `name.optimizers[i]` when that is `obj`."""
    if depth == 0:
        return None
    inner, many = _attribute(value, "optimizer"), _attribute(value, "optimizers")
    if inner is obj:
        return name
    if isinstance(many, (list, tuple)):
        for i, item in enumerate(many):
            if item is obj or getattr(item, "optimizer", None) is obj:
                return f"{name}.optimizers[{i}]"
    return None if inner is None else _held(inner, obj, f"{name}.optimizer", depth - 1)

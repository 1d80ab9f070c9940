"""Checkpoints saved during a check do not replace the user's files.

The check puts the user's objects back as they were; a checkpoint the checked loop writes over an
existing file would no longer match them (and a later "resume from checkpoint" would load the
check's steps). While a check runs, a save to a path that existed before the check goes to a
temporary folder instead, and a load of that path in the same check reads the check's version, so
the cell sees what it wrote. New files are written where the cell asks, and kept, as objects the
cell creates are.

Covered: `torch.save`/`torch.load` (which Hugging Face's Trainer uses for its optimizer, scheduler
and RNG files), Lightning's checkpoint writer (`_atomic_save`, which serialises with `torch.save`
into memory first) and safetensors' `save_file`/`load_file` (Hugging Face's model weights). Other
writes (`open()`, `json.dump`, a file object passed to `torch.save`) are not redirected.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from nbgrad.capture import patching
from nbgrad.records import SavedFile

# (module, function, position of the path argument, its keyword name, writes)
TARGETS = [
    ("torch", "save", 1, "f", True),
    ("torch.serialization", "save", 1, "f", True),
    ("torch", "load", 0, "f", False),
    ("torch.serialization", "load", 0, "f", False),
    ("lightning_fabric.plugins.io.torch_io", "_atomic_save", 1, "filepath", True),
    ("lightning_fabric.utilities.cloud_io", "_atomic_save", 1, "filepath", True),
    ("lightning.fabric.plugins.io.torch_io", "_atomic_save", 1, "filepath", True),
    ("lightning.fabric.utilities.cloud_io", "_atomic_save", 1, "filepath", True),
    ("safetensors.torch", "save_file", 1, "filename", True),
    ("safetensors.torch", "load_file", 0, "filename", False),
    ("transformers.modeling_utils", "safe_save_file", 1, "filename", True),
]


class SaveRedirect:
    def __init__(self) -> None:
        self.folder: str | None = None
        self.redirected: dict[str, tuple[str, str]] = {}  # real path -> (as shown, written to)
        self.written: list[str] = []  # new files the cell saved (kept where it saved them)
        self._created: set[str] = set()
        self._undo: list[Callable[[], None]] = []
        self._patched: set[tuple[str, str]] = set()
        self.installed = False

    def install(self) -> None:
        """Patch the writers of the modules loaded now; called again when the steps first use
        a model, so that a framework the cell imports itself is covered before it saves."""
        self.installed = True
        for module_name, name, position, keyword, writes in TARGETS:
            module = sys.modules.get(module_name)
            if (module_name, name) in self._patched or module is None \
                    or not callable(module.__dict__.get(name)):
                continue  # not loaded: then the user's code cannot be calling it
            self._undo.append(patching.replace(
                module, name, self._wrapper(position, keyword, writes)))
            self._patched.add((module_name, name))

    def remove(self) -> None:
        self.installed = False
        while self._undo:
            self._undo.pop()()
        self._patched.clear()

    def _wrapper(self, position: int, keyword: str, writes: bool
                 ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
            def redirected(*args: Any, **kwargs: Any) -> Any:
                if len(args) > position:
                    args = (*args[:position], self.target(args[position], writes),
                            *args[position + 1:])
                elif keyword in kwargs:
                    kwargs[keyword] = self.target(kwargs[keyword], writes)
                return original(*args, **kwargs)

            return redirected

        return wrap

    def target(self, file: Any, writes: bool) -> Any:
        """Where a save to (or a load from) `file` goes during the check."""
        if not isinstance(file, (str, os.PathLike)):
            return file  # a file object or a buffer: the caller owns what it writes to
        text = os.fspath(file)
        if not isinstance(text, str) or ("://" in text and not text.startswith("file://")):
            return file  # a remote URL: nothing on this disk to protect
        path = text.removeprefix("file://")
        real = os.path.realpath(path)
        if real in self.redirected:
            return self.redirected[real][1]
        if not writes or real in self._created:
            return file
        if not os.path.exists(real):
            self._created.add(real)
            self.written.append(os.path.abspath(path))
            return file
        written_to = self._place(os.path.basename(real))
        self.redirected[real] = (os.path.abspath(path), written_to)
        return written_to

    def _place(self, name: str) -> str:
        if self.folder is None:
            self.folder = tempfile.mkdtemp(prefix="nbgrad-saves-")
        candidate, n = os.path.join(self.folder, name), 1
        while os.path.exists(candidate) or candidate in {w for _, w in self.redirected.values()}:
            candidate, n = os.path.join(self.folder, f"{n}-{name}"), n + 1
        return candidate

    def redirected_files(self) -> list[SavedFile]:
        return [SavedFile(path=shown, written_to=to) for shown, to in self.redirected.values()
                if os.path.exists(to)]

    def keep_changes(self) -> None:
        """Put what the cell saved where it saved it (the check's changes are kept)."""
        for real, (_, written_to) in list(self.redirected.items()):
            if os.path.exists(written_to):
                shutil.move(written_to, real)
        self.redirected.clear()

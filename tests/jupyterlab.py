"""A throw-away JupyterLab server for the browser tests.

It listens on 127.0.0.1 at a free port with a random token, keeps its config, data, runtime,
settings, workspaces and IPython directories in a temporary folder (nothing of the developer's own
setup is read or written), never reaches the network (no news, update checks or PyPI lookups),
attaches every cell to the DOM (windowingMode none) and lets kernels import the nbgrad under test
(PYTHONPATH). It is stopped through POST /api/shutdown, then by its own PID only.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none", "scrollPastEnd": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                     "checkForUpdates": False},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JupyterLab:
    """`with JupyterLab(notebooks_dir) as lab: page.goto(lab.url("x.ipynb"))`."""

    def __init__(self, root: Path, *, startup_timeout: float = 60.0) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="nbgrad-lab-"))
        self.root = self.tmp / "root"
        shutil.copytree(root, self.root)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.tmp / "server.log"

    # -- life cycle ----------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                         ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                         ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                         ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("MPLCONFIGDIR", "mpl")]:
            (self.tmp / sub).mkdir(exist_ok=True)
            env[var] = str(self.tmp / sub)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(":")
        env["OMP_NUM_THREADS"] = "1"
        env.pop("JUPYTER_PATH", None)
        return env

    def _write_settings(self) -> None:
        for plugin, values in SETTINGS.items():
            package, name = plugin.rsplit("/", 1)
            path = self.tmp / "settings" / package / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def start(self) -> JupyterLab:
        env = self._env()
        self._write_settings()
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}", "--LabApp.news_url=",
            "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True",
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self.root)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited at start:\n{self.log.read_text()[-3000:]}")
            try:
                self.api("status")
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer in {self.startup_timeout} s:\n"
                           f"{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                self.api("shutdown", method="POST")
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.terminate()  # our own child, by its PID
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- talking to it -------------------------------------------------------------------
    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/{path}", method=method,
            headers={"Authorization": f"token {self.token}"}, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else None

    def url(self, notebook: str = "") -> str:
        """The lab (with `notebook` open), with a fresh workspace."""
        path = f"/tree/{notebook}" if notebook else ""
        return f"http://127.0.0.1:{self.port}/lab{path}?token={self.token}&reset"

    def kernels_idle(self) -> bool:
        sessions = self.api("sessions")
        return bool(sessions) and all(s["kernel"]["execution_state"] == "idle" for s in sessions)

    def shutdown_kernels(self) -> None:
        for s in self.api("sessions"):
            with contextlib.suppress(urllib.error.URLError):
                self.api(f"sessions/{s['id']}", method="DELETE")

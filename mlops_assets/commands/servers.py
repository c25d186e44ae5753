"""The servers `mlops up` starts and stops: their commands, ports, readiness and clean-up."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from mlops_assets.commands.parser import PORTS

HOST = "127.0.0.1"
# MLflow's job runner (GenAI scorers, prompt optimization; unused here) starts eight processes
# with the server, ~40 s of CPU on this machine
MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def data_docs_server(home: Path, port: int) -> list[str]:
    """The command that serves the home's Great Expectations Data Docs site on loopback."""
    from asset_checks.data_docs_site import data_docs_folder

    site = data_docs_folder(home)
    site.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "http.server", str(port), "-b", HOST, "-d", str(site)]


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def require_free(port: int) -> None:
    with socket.socket() as sock:
        if sock.connect_ex((HOST, port)) == 0:
            raise OSError(
                f"port {port} on {HOST} is already in use: is another `mlops up` "
                f"running? Stop it, or choose another port ({'/'.join(f for f, *_ in PORTS)})"
            )


def wait_http(url: str, what: str, children, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in children:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with status {process.returncode} on start")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not answer at {url} within {timeout:.0f} s")


def kill_session(session: int) -> None:
    """SIGKILL every process left in a child's session (each child starts its own): members of
    other process groups in it, or started while it stopped, outlive a signal to its group."""
    import psutil

    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getsid(proc.pid) == session:
                proc.kill()


def signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)

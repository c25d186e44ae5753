"""Where a model or a sweep came from: the code's commit, whether the checkout had uncommitted
changes, and the hash of the dependency lock."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout (or the installed package's parent)


def git_commit() -> str:
    """The commit of the code that trains, or 'unknown' outside a git checkout."""
    return _git("rev-parse", "HEAD") or "unknown"


def code_provenance() -> dict[str, str]:
    """The commit, the dirty flag (uncommitted changes to tracked files) and the SHA-256 of
    `uv.lock`; 'unknown' for what cannot be read here."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    lock = ROOT / "uv.lock"
    return {
        "git_commit": git_commit(),
        "git_dirty": "unknown" if status is None else str(bool(status.strip())).lower(),
        "uv_lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest()
        if lock.is_file()
        else "unknown",
    }


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=ROOT, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None

"""What a run was made with: code version, host, command line, lab file, and per board the
firmware, toolchain, board serial number and clock. Stored as provenance.json in the run folder.
"""

from __future__ import annotations

import hashlib
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import hilbench
from hilbench.paths import REPO_DIR


def file_sha256(path: Path) -> str:
    """sha256 of a file (a firmware image, a source file), as hex. The builder records its
    images' hashes with it too (hilbench/build/builder.py imports it from here: the record
    layer imports nothing from the build, so either can be imported first)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def utc_now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def git_sha(repo: Path = REPO_DIR) -> str:
    """HEAD of the hilbench checkout, with ``-dirty`` when it has uncommitted changes.

    Returns "" when hilbench is not running from a git checkout (e.g. installed from a wheel);
    the hilbench version then identifies the code.
    """
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return ""
        status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                                 "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    sha = head.stdout.strip()
    return sha + "-dirty" if status.stdout.strip() else sha


def toolchain_version(compiler: str) -> str:
    """First line of ``compiler --version`` (e.g. arm-none-eabi-gcc), or why it is unknown."""
    try:
        result = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                                timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({compiler}: {error})"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else f"unknown ({compiler} printed no version)"


def collect_provenance(run_id: str, command_line: Sequence[str] | None = None,
                       lab_file: Path | None = None) -> dict:
    """The run-wide part of provenance.json; boards are added with RunRecorder.record_board."""
    lab_text = None
    if lab_file is not None:
        lab_text = Path(lab_file).read_text(encoding="utf-8")
    argv = list(sys.argv if command_line is None else command_line)
    return {
        "run_id": run_id,
        "started_at": utc_now_iso(),
        "hilbench_version": hilbench.__version__,
        "git_sha": git_sha(),
        "command_line": shlex.join(argv),
        "host": {
            "name": platform.node(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "python": platform.python_version(),
        },
        "lab_file": None if lab_file is None else str(lab_file),
        "lab_file_contents": lab_text,
        "boards": {},
    }

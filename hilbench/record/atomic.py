"""Crash-safe file replacement: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hilbench.errors import ConfigError

# Temporary files are hidden and carry this marker, so readers and listings skip them even
# when a SIGKILL left one behind between write and rename.
TEMP_MARKER = ".tmp-"


def is_temporary(path: Path) -> bool:
    """True for a temporary file of atomic_write_bytes (possibly left by a killed process)."""
    return path.name.startswith(".") and TEMP_MARKER in path.name


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    The data goes to a temporary file in the same folder (same file system, so the rename is
    atomic), is fsynced, then renamed over ``path``; the folder is fsynced so the rename
    itself survives a power cut. On any exception, including KeyboardInterrupt, the temporary
    file is removed and ``path`` keeps its previous content.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}{TEMP_MARKER}{os.getpid()}-{secrets.token_hex(3)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(descriptor, view)
                view = view[written:]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def check_output_path(path: str | Path, what: str) -> Path:
    """Refuse, before any work starts, a destination that atomic_write_bytes could not write:
    ``what`` names the option in the error (e.g. '--output')."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"{what} {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {path}: the folder {folder} is not writable")
    return path


def atomic_write_text(path: Path, text: str) -> None:
    """atomic_write_bytes for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def fsync_directory(folder: Path) -> None:
    """Make a rename or file creation in ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

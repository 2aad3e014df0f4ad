"""The MLPerf Tiny reference models: where they are, whether they are the right files, and
how to fetch them.

hilbench never ships these models. It ships their file table (``mlperf_tiny_sources.csv``:
file, repository, pinned commit, path, SHA-256) and reads the files from one folder:
``$HILBENCH_MLPERF_DIR`` when set (a folder that already holds them), else
``<hilbench cache>/mlperf_tiny``, where ``hilbench models fetch mlperf-tiny`` puts them.
A file whose SHA-256 differs from the table is refused, naming the file.
"""

from __future__ import annotations

import csv
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from hilbench.errors import ModelError
from hilbench.paths import PACKAGE_DIR, cache_root

SOURCES_FILE = PACKAGE_DIR / "mlperf_tiny_sources.csv"
DIR_VARIABLE = "HILBENCH_MLPERF_DIR"
# Where the pinned files are downloaded from; a lab behind a mirror of the same layout
# (<base>/<repository>/<commit>/<path>) sets HILBENCH_MLPERF_URL.
URL_VARIABLE = "HILBENCH_MLPERF_URL"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
FETCH_COMMAND = "hilbench models fetch mlperf-tiny"
DOWNLOAD_TIMEOUT_S = 30

# The int8 models of the MLPerf Tiny benchmark (file stems), in the order its results tables
# use, with the benchmark's id for each. Its runner and DUT firmware know a model by the id
# ('m-model-[kws01]'): firmware that hilbench builds for a reference model answers with the
# id, and a plain MLPerf Tiny DUT that answers with an id runs that reference model.
MODEL_IDS: dict[str, str] = {
    "kws_ref_model": "kws01",
    "vww_96_int8": "vww01",
    "pretrainedResnet_quant": "ic01",
    "ad01_int8": "ad01",
}
MODEL_OF_ID: dict[str, str] = {model_id: stem for stem, model_id in MODEL_IDS.items()}
# Build define of hilbench firmware's plain MLPerf Tiny mode (firmware_targets/common/hb_dut.c):
# no hilbench extensions, as third-party firmware that implements the benchmark's API.
PLAIN_MLPERF_DEFINE = "HB_DUT_PLAIN_MLPERF=1"
INT8_MODELS = tuple(MODEL_IDS)

PRESENT, MISSING, WRONG_HASH = "present", "missing", "wrong hash"


def device_model_name(model_path: str | Path) -> str:
    """The name firmware reports for a model file: the MLPerf Tiny id of a reference model,
    else the model's name in results (a zoo model's folder name, else the file's stem)."""
    from hilbench.zoo import model_name

    return MODEL_IDS.get(Path(model_path).stem, model_name(model_path))


@dataclass(frozen=True)
class ReferenceFile:
    """One row of the file table: a model file pinned to a commit of its repository."""

    file: str
    repository: str
    commit: str
    path: str
    sha256: str

    @property
    def name(self) -> str:
        """The model's name, as --model takes it: the file's stem."""
        return Path(self.file).stem

    def url(self, base_url: str | None = None) -> str:
        base = (base_url or os.environ.get(URL_VARIABLE) or DEFAULT_BASE_URL).rstrip("/")
        return f"{base}/{self.repository}/{self.commit}/{self.path}"


def reference_files(table: Path = SOURCES_FILE) -> list[ReferenceFile]:
    """The rows of the file table shipped with hilbench."""
    with open(table, newline="", encoding="utf-8") as handle:
        return [ReferenceFile(**row) for row in csv.DictReader(handle)]


def models_dir() -> Path:
    """The folder hilbench reads the MLPerf Tiny models from (and fetches them into)."""
    configured = os.environ.get(DIR_VARIABLE)
    return Path(configured).expanduser() if configured else cache_root() / "mlperf_tiny"


def how_to_get_them() -> str:
    """What to tell a user whose MLPerf Tiny models are missing."""
    return (f"run '{FETCH_COMMAND}', or set {DIR_VARIABLE} to a folder that already holds "
            "the files")


@lru_cache(maxsize=64)
def _sha256_of(path: Path, size: int, mtime_ns: int) -> str:
    # Keyed on size and mtime as well, so a replaced file is hashed again.
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_state(entry: ReferenceFile, folder: Path | None = None) -> str:
    """PRESENT, MISSING or WRONG_HASH for one table row in ``folder`` (default models_dir())."""
    path = (folder or models_dir()) / entry.file
    try:
        stat = path.stat()
    except FileNotFoundError:
        return MISSING
    return PRESENT if _sha256_of(path, stat.st_size, stat.st_mtime_ns) == entry.sha256 else WRONG_HASH


def _entry(name: str) -> ReferenceFile | None:
    return next((entry for entry in reference_files() if name in (entry.name, entry.file)), None)


def is_reference_name(name: str) -> bool:
    """True when ``name`` names an MLPerf Tiny model of the table (with or without .tflite)."""
    return _entry(name) is not None


def model_path(name: str) -> Path:
    """The verified path of an MLPerf Tiny model, by name (``ad01_int8``) or file name.

    Raises ModelError when the model is not in the table, is missing, or its SHA-256 is wrong.
    """
    entry = _entry(name)
    if entry is None:
        known = ", ".join(entry.name for entry in reference_files())
        raise ModelError(f"'{name}' is not an MLPerf Tiny reference model (known: {known})")
    folder = models_dir()
    state = file_state(entry, folder)
    if state == MISSING:
        raise ModelError(f"MLPerf Tiny model {entry.file} is not in {folder}: {how_to_get_them()}")
    if state == WRONG_HASH:
        raise ModelError(f"MLPerf Tiny model file {folder / entry.file} has the wrong SHA-256 "
                         f"(expected {entry.sha256}, from {entry.repository}@{entry.commit[:12]}); "
                         f"delete it and {how_to_get_them()}")
    return folder / entry.file


def present_int8_models() -> dict[str, Path]:
    """The MLPerf Tiny int8 models that are present with the right hash, by name."""
    folder = models_dir()
    entries = {entry.name: entry for entry in reference_files()}
    return {name: folder / entries[name].file for name in INT8_MODELS
            if file_state(entries[name], folder) == PRESENT}


def status() -> list[tuple[ReferenceFile, str]]:
    """Every table row with its state in models_dir()."""
    folder = models_dir()
    return [(entry, file_state(entry, folder)) for entry in reference_files()]


Download = Callable[[str], bytes]


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        return response.read()


def fetch(folder: Path | None = None, *, base_url: str | None = None,
          entries: list[ReferenceFile] | None = None, download: Download = _download,
          progress: Callable[[str], None] = lambda line: None) -> list[Path]:
    """Download every missing or wrong file of the table into ``folder`` (default models_dir()).

    Each file is checked against its SHA-256 before it is written, atomically: a failed or
    interrupted fetch leaves no partial file. The first download that fails stops the fetch
    with a ModelError naming the URL (no network: it fails at once).
    """
    from hilbench.record.atomic import atomic_write_bytes

    folder = Path(folder or models_dir())
    paths = []
    for entry in entries if entries is not None else reference_files():
        target = folder / entry.file
        if file_state(entry, folder) == PRESENT:
            progress(f"{target}: already present")
            paths.append(target)
            continue
        url = entry.url(base_url)
        try:
            data = download(url)
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise ModelError(f"cannot download {url}: {reason}. Without network access, copy the "
                             f"MLPerf Tiny files into a folder and set {DIR_VARIABLE} to it") from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            raise ModelError(f"downloaded {entry.file} from {url} has SHA-256 {digest}, expected "
                             f"{entry.sha256}; refused, nothing written")
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
        progress(f"{target}: fetched from {url}")
        paths.append(target)
    return paths

"""The MLPerf Tiny reference models: the pinned file table, the folder hilbench reads them
from, hash checks, `hilbench models` and `hilbench models fetch mlperf-tiny`.

Downloads are served by a real HTTP server on 127.0.0.1 laid out as the upstream one
(<base>/<repository>/<commit>/<path>); the machine running the tests needs no network.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hilbench import mlperf_tiny
from hilbench.errors import ModelError
from hilbench.paths import zoo_root
from hilbench.record.atomic import is_temporary
from tests.support.mlperf_tiny import mlperf_tiny_model


@contextlib.contextmanager
def http_server(root: Path):
    """Serve ``root`` on 127.0.0.1; yields the base URL and the list of paths requested."""
    requested: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requested.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    with socket.socket() as probe:   # a port nobody listens on: "no network", at once
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def upstream_layout(root: Path, entries, files: dict[str, Path]) -> None:
    """Lay ``files`` (by table file name) out under ``root`` as the upstream server has them."""
    for entry in entries:
        target = root / entry.repository / entry.commit / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[entry.file].read_bytes())


def zoo_table() -> list[mlperf_tiny.ReferenceFile]:
    """A file table in the shipped format, over the zoo's models (always in the repository)."""
    entries = []
    for name in ("ad", "kws"):
        path = zoo_root() / name / "int8.tflite"
        entries.append(mlperf_tiny.ReferenceFile(
            file=f"{name}_int8.tflite", repository="example/zoo", commit="0" * 40,
            path=f"models/{name}/int8.tflite", sha256=hashlib.sha256(path.read_bytes()).hexdigest()))
    return entries


def zoo_files() -> dict[str, Path]:
    return {f"{name}_int8.tflite": zoo_root() / name / "int8.tflite" for name in ("ad", "kws")}


def hilbench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hilbench.cli", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})


def model_states(listing: str) -> dict[str, str]:
    """The MLPerf Tiny rows of `hilbench models`: model -> state."""
    return dict(re.findall(r"^(\w+) +(present|missing|wrong hash) +mlcommons/tiny@", listing, re.M))


def test_the_shipped_table_pins_every_file_to_a_commit_and_a_hash():
    entries = mlperf_tiny.reference_files()
    assert {entry.name for entry in entries} >= set(mlperf_tiny.INT8_MODELS)
    assert len(entries) == 8 and len({entry.file for entry in entries}) == 8
    for entry in entries:
        assert entry.repository == "mlcommons/tiny"
        assert re.fullmatch(r"[0-9a-f]{40}", entry.commit) and re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
        assert entry.url().startswith(f"https://raw.githubusercontent.com/mlcommons/tiny/{entry.commit}/")


def test_the_folder_is_the_variable_else_the_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(mlperf_tiny.DIR_VARIABLE, raising=False)
    monkeypatch.setenv("HILBENCH_CACHE", str(tmp_path / "cache"))
    assert mlperf_tiny.models_dir() == tmp_path / "cache" / "mlperf_tiny"
    monkeypatch.setenv(mlperf_tiny.DIR_VARIABLE, str(tmp_path / "mine"))
    assert mlperf_tiny.models_dir() == tmp_path / "mine"


def test_fetch_checks_hashes_and_writes_atomically(tmp_path):
    entries = zoo_table()
    upstream_layout(tmp_path / "upstream", entries, zoo_files())
    folder = tmp_path / "models"
    lines: list[str] = []
    with http_server(tmp_path / "upstream") as (base_url, requested):
        paths = mlperf_tiny.fetch(folder, base_url=base_url, entries=entries, progress=lines.append)
        assert paths == [folder / "ad_int8.tflite", folder / "kws_int8.tflite"]
        assert requested == [f"/example/zoo/{'0' * 40}/models/{name}/int8.tflite" for name in ("ad", "kws")]
        for path, source in zip(paths, zoo_files().values()):
            assert path.read_bytes() == source.read_bytes()
        assert all(f"fetched from {base_url}/" in line for line in lines)
        assert not [p for p in folder.iterdir() if is_temporary(p)]
        # a second fetch finds them present and downloads nothing
        mlperf_tiny.fetch(folder, base_url=base_url, entries=entries, progress=lines.append)
        assert len(requested) == 2 and lines[-1].endswith("kws_int8.tflite: already present")


def test_a_download_with_the_wrong_hash_is_refused_and_nothing_is_written(tmp_path):
    entries = zoo_table()
    files = zoo_files()
    files["kws_int8.tflite"] = zoo_root() / "gesture" / "int8.tflite"   # not the pinned file
    upstream_layout(tmp_path / "upstream", entries, files)
    folder = tmp_path / "models"
    with http_server(tmp_path / "upstream") as (base_url, _):
        with pytest.raises(ModelError, match=r"downloaded kws_int8.tflite from http://127\.0\.0\.1:\d+/"
                                             r"example/zoo/0+/models/kws/int8.tflite has SHA-256 [0-9a-f]{64}, "
                                             r"expected [0-9a-f]{64}; refused, nothing written"):
            mlperf_tiny.fetch(folder, base_url=base_url, entries=entries)
    assert sorted(p.name for p in folder.iterdir()) == ["ad_int8.tflite"]


def test_without_network_fetch_fails_at_once_naming_the_url_and_the_variable(tmp_path):
    url = closed_port_url()
    with pytest.raises(ModelError) as info:
        mlperf_tiny.fetch(tmp_path / "models", base_url=url, entries=zoo_table())
    message = str(info.value)
    assert message.startswith(f"cannot download {url}/example/zoo/{'0' * 40}/models/ad/int8.tflite: ")
    assert message.endswith("set HILBENCH_MLPERF_DIR to it")
    assert not (tmp_path / "models").exists()


def test_fetch_command_without_network_is_one_line_and_exit_2(tmp_path):
    url = closed_port_url()
    result = hilbench("models", "fetch", "mlperf-tiny",
                      env={"HILBENCH_MLPERF_URL": url, "HILBENCH_MLPERF_DIR": str(tmp_path / "m")})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"hilbench: error: cannot download {url}/mlcommons/tiny/")
    assert "HILBENCH_MLPERF_DIR" in line


def test_models_command_lists_missing_and_wrong_files(tmp_path):
    folder = tmp_path / "mlperf"
    folder.mkdir()
    (folder / "ad01_int8.tflite").write_bytes(b"not the pinned file")
    result = hilbench("models", env={"HILBENCH_MLPERF_DIR": str(folder)})
    assert result.returncode == 0, result.stderr
    assert model_states(result.stdout) == {**{entry.name: "missing" for entry in mlperf_tiny.reference_files()},
                      "ad01_int8": "wrong hash"}
    assert f"MLPerf Tiny reference models in {folder}:" in result.stdout
    assert "to get them: run 'hilbench models fetch mlperf-tiny'" in result.stdout
    assert re.search(r"^ad +anomaly detection", result.stdout, re.M)   # the zoo table first


def test_a_wrong_file_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv(mlperf_tiny.DIR_VARIABLE, str(tmp_path))
    with pytest.raises(ModelError, match=r"MLPerf Tiny model ad01_int8.tflite is not in .*: run "
                                         r"'hilbench models fetch mlperf-tiny', or set HILBENCH_MLPERF_DIR"):
        mlperf_tiny.model_path("ad01_int8")
    (tmp_path / "ad01_int8.tflite").write_bytes(b"tampered")
    with pytest.raises(ModelError, match=rf"MLPerf Tiny model file {re.escape(str(tmp_path))}/ad01_int8.tflite "
                                         r"has the wrong SHA-256"):
        mlperf_tiny.model_path("ad01_int8")
    from hilbench.bench import find_model

    with pytest.raises(ModelError, match="ad01_int8.tflite has the wrong SHA-256"):
        find_model("ad01_int8")


def test_the_real_files_match_the_table_and_fetch_end_to_end(tmp_path):
    """The shipped table against the real MLPerf Tiny files: every one present, and a fetch of
    the whole table from a server holding them writes byte-identical files."""
    real = {entry.file: mlperf_tiny_model(entry.name) for entry in mlperf_tiny.reference_files()}
    upstream_layout(tmp_path / "upstream", mlperf_tiny.reference_files(), real)
    with http_server(tmp_path / "upstream") as (base_url, requested):
        paths = mlperf_tiny.fetch(tmp_path / "fetched", base_url=base_url)
    assert len(requested) == 8
    for path in paths:
        assert path.read_bytes() == real[path.name].read_bytes()
    result = hilbench("models", env={"HILBENCH_MLPERF_DIR": str(tmp_path / "fetched")})
    assert set(model_states(result.stdout).values()) == {"present"} and "to get them" not in result.stdout

"""Serve float .tflite models over the Open Inference Protocol with MLServer, on 127.0.0.1.

MLServer runs in a virtual environment of its own that hilbench creates on first use (under
``cache_root()/cloud``), because MLServer pins protobuf below 7 and other libraries that the
rest of hilbench (TensorFlow, tflite-micro) share with the main Python. Installing it there keeps
the main environment untouched. Set HILBENCH_MLSERVER_PYTHON to the interpreter of an
environment you manage yourself to skip that step.

``serve_models`` starts MLServer as a subprocess, waits until every model is ready, and always
stops the whole process group when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hilbench.errors import DeployError, ModelError
from hilbench import mlperf_tiny
from hilbench.paths import cache_root, zoo_root

# Pinned so that every machine serves with the same code; bump both together after testing.
SERVER_REQUIREMENTS = ("mlserver==1.7.1", "ai-edge-litert==2.3.0")
SERVER_PYTHON_ENV_VAR = "HILBENCH_MLSERVER_PYTHON"
RUNTIME_DIR = Path(__file__).resolve().parent / "server_runtime"
RUNTIME_IMPLEMENTATION = "tflite_mlserver_runtime.TFLiteRuntime"
LOOPBACK_HOST = "127.0.0.1"
DEFAULT_STARTUP_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0
LOG_TAIL_LINES = 25
TFLITE_IDENTIFIER = b"TFL3"
MAX_TCP_PORT = 65535
# Open Inference Protocol model names end up in URL paths.
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def server_env_dir() -> Path:
    """Folder of the MLServer virtual environment that hilbench manages."""
    tag = "-".join(requirement.replace("==", "") for requirement in SERVER_REQUIREMENTS)
    return cache_root() / "cloud" / f"server-env-py{sys.version_info.major}.{sys.version_info.minor}-{tag}"


def ensure_server_python(log=print) -> Path:
    """Return the Python interpreter that runs MLServer, creating its environment if needed.

    The environment is created once (``python -m venv`` + ``pip install`` of
    SERVER_REQUIREMENTS from the package index) and reused; a lock file makes concurrent
    callers wait for one another instead of installing twice.
    """
    override = os.environ.get(SERVER_PYTHON_ENV_VAR)
    if override:
        python = Path(override)
        if not python.exists():
            raise DeployError(f"{SERVER_PYTHON_ENV_VAR}={override} does not exist; point it at a Python with mlserver and ai-edge-litert installed, or unset it")
        return python

    env_dir = server_env_dir()
    python = env_dir / "bin" / "python"
    marker = env_dir / "hilbench-installed.json"
    env_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(env_dir.parent / f"{env_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and python.exists():
            return python
        log(f"creating the MLServer environment in {env_dir} (one time, about a minute)")
        shutil.rmtree(env_dir, ignore_errors=True)
        _run_setup_step([sys.executable, "-m", "venv", str(env_dir)], "create the virtual environment")
        _run_setup_step(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *SERVER_REQUIREMENTS],
            f"install {' '.join(SERVER_REQUIREMENTS)}",
        )
        marker.write_text(json.dumps({"requirements": list(SERVER_REQUIREMENTS)}))
    return python


def _run_setup_step(command: list[str], what: str) -> None:
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-LOG_TAIL_LINES:])
        raise DeployError(
            f"could not {what} for the cloud server (exit {completed.returncode}); "
            f"check that the package index is reachable, or set {SERVER_PYTHON_ENV_VAR}:\n{tail}"
        )


def resolve_model(spec: str | os.PathLike) -> Path:
    """Find a float .tflite model: a path, a models_zoo/<name> entry (its float.tflite) or the
    name of an MLPerf Tiny reference model (e.g. ``ad01_fp32``, see :mod:`hilbench.mlperf_tiny`)."""
    candidates = [Path(spec)]
    if not Path(spec).suffix:
        if mlperf_tiny.is_reference_name(str(spec)):
            return mlperf_tiny.model_path(str(spec))   # refuses a missing or wrong file, naming it
        candidates.append(zoo_root() / str(spec) / "float.tflite")
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ModelError(
        f"model '{spec}' not found (looked at: {', '.join(str(c) for c in candidates)}); "
        "give a .tflite path, a models_zoo entry name or an MLPerf Tiny model name"
    )


def default_model_name(model_path: Path) -> str:
    """``models_zoo/kws/float.tflite`` -> ``kws``; ``ad01_fp32.tflite`` -> ``ad01_fp32``."""
    return model_path.parent.name if model_path.stem == "float" else model_path.stem


def _check_float_model(model_path: Path) -> None:
    """The cloud side runs the float model: an int8 one would be served, and compared with the
    edge, as if it were the float reference."""
    from hilbench.compile.reader import read_model

    with open(model_path, "rb") as handle:
        header = handle.read(8)
    if header[4:8] != TFLITE_IDENTIFIER:
        raise ModelError(f"{model_path} is not a TensorFlow Lite flatbuffer (no 'TFL3' identifier); give a .tflite file")
    try:
        graph, _ = read_model(model_path)
    except ModelError:
        return  # damaged beyond the header: the server's own loader says how, in its log
    ends = [graph.tensors[index] for index in (*graph.inputs, *graph.outputs)]
    not_float = [f"{tensor.name} ({tensor.dtype})" for tensor in ends if tensor.dtype != "float32"]
    if not_float:
        raise ModelError(f"{model_path} is not a float model: its input/output tensors "
                         f"{', '.join(not_float)} are not float32; the cloud serves the float "
                         "model, e.g. models_zoo/<name>/float.tflite")


def _named_models(models: Sequence[str | os.PathLike] | Mapping[str, str | os.PathLike]) -> dict[str, Path]:
    if isinstance(models, Mapping):
        named = {name: resolve_model(spec) for name, spec in models.items()}
    else:
        named = {}
        for spec in models:
            path = resolve_model(spec)
            name = default_model_name(path)
            if name in named:
                raise ModelError(f"two models would both be served as '{name}' ({named[name]} and {path}); pass a mapping of names to paths")
            named[name] = path
    if not named:
        raise ModelError("no model to serve; give at least one .tflite model")
    for name, path in named.items():
        if not MODEL_NAME_PATTERN.match(name):
            raise ModelError(f"model name '{name}' (for {path}) must match {MODEL_NAME_PATTERN.pattern} to be used in URLs")
        _check_float_model(path)
    return named


def _free_loopback_port(port: int = 0) -> int:
    """A port on 127.0.0.1 that nothing listens on: ``port`` itself, or the kernel's pick for 0.

    MLServer needs its ports up front, so the port is released just before MLServer binds it.
    Checking a requested port first matters: if another server already answered there, the
    readiness check would talk to that server instead of ours.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn does: lingering TIME_WAIT connections must not count as "in use"; a
        # listening socket still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK_HOST, port))
        except OSError as error:
            raise DeployError(f"port {port} on {LOOPBACK_HOST} is in use ({error.strerror}); choose another port or 0 for a free one") from error
        return probe.getsockname()[1]


@dataclass
class ServerHandle:
    """A running MLServer: its base URL, the names it serves, and how to stop it."""

    url: str
    models: dict[str, Path]
    process: subprocess.Popen
    workdir: Path
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the server's log (stdout and stderr)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server and every process it started (SIGTERM, then SIGKILL after a grace period)."""
        if self._stopped:
            return
        self._stopped = True
        _terminate_process_group(self.process)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _terminate_process_group(process: subprocess.Popen) -> None:
    # The server runs in its own session, so its pid is also its process group id.
    for sig, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; make sure no child it left behind survives it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return


def _write_model_repository(workdir: Path, models: dict[str, Path], http_port: int, grpc_port: int) -> None:
    settings = {
        "debug": False,
        # Inference in the server process itself: no worker pool to start or to leave behind.
        "parallel_workers": 0,
        "host": LOOPBACK_HOST,
        "http_port": http_port,
        "grpc_port": grpc_port,
        "metrics_endpoint": None,
        "load_models_at_startup": True,
    }
    (workdir / "settings.json").write_text(json.dumps(settings, indent=2))
    for name, path in models.items():
        model_dir = workdir / "models" / name
        model_dir.mkdir(parents=True)
        model_settings = {"name": name, "implementation": RUNTIME_IMPLEMENTATION, "parameters": {"uri": str(path)}}
        (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2))


def _all_ready(url: str, model_names: Sequence[str]) -> bool:
    for path in ["/v2/health/ready", *(f"/v2/models/{name}/ready" for name in model_names)]:
        try:
            with urllib.request.urlopen(url + path, timeout=2) as response:
                if response.status != 200:
                    return False
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
    return True


def start_server(
    models: Sequence[str | os.PathLike] | Mapping[str, str | os.PathLike],
    port: int = 0,
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
) -> ServerHandle:
    """Start MLServer on 127.0.0.1 serving ``models`` and wait until all are ready.

    ``models`` is a list of model specs (see ``resolve_model``; served under
    ``default_model_name``) or a mapping of served name to spec. ``port=0`` picks a free port.
    Raises DeployError, with the server's last log lines, if it exits or is not ready in time.
    The caller must call ``stop()``; prefer ``serve_models``.
    """
    named = _named_models(models)
    if not 0 <= port <= MAX_TCP_PORT:  # checked before the server's environment is set up
        raise DeployError(f"port {port} is not a TCP port (0 to {MAX_TCP_PORT}; 0 picks a free one)")
    python = ensure_server_python()
    http_port = _free_loopback_port(port)
    grpc_port = _free_loopback_port()
    while grpc_port == http_port:
        grpc_port = _free_loopback_port()
    workdir = Path(tempfile.mkdtemp(prefix="hilbench-mlserver-"))
    _write_model_repository(workdir, named, http_port, grpc_port)
    log_path = workdir / "server.log"
    environment = dict(os.environ, PYTHONPATH=str(RUNTIME_DIR), PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [str(python), "-m", "mlserver.cli.main", "start", str(workdir)],
            cwd=workdir,  # MLServer writes its .envs/.metrics folders into the working directory
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
            start_new_session=True,
        )
    handle = ServerHandle(url=f"http://{LOOPBACK_HOST}:{http_port}", models=named, process=process, workdir=workdir, log_path=log_path)
    deadline = time.monotonic() + startup_timeout_s
    try:
        while True:
            exit_code = process.poll()
            if exit_code is not None:
                raise DeployError(f"the cloud server (MLServer) exited with code {exit_code} before it was ready; its last log lines:\n{handle.log_tail()}")
            # Ready only counts while our process is alive, so that a foreign server that took
            # the port in the meantime is not mistaken for ours.
            if _all_ready(handle.url, list(named)) and process.poll() is None:
                return handle
            if time.monotonic() > deadline:
                raise DeployError(
                    f"the cloud server (MLServer) was not ready after {startup_timeout_s:.0f} s at {handle.url}; "
                    f"its last log lines:\n{handle.log_tail()}"
                )
            time.sleep(0.1)
    except BaseException:
        handle.stop()
        raise


@contextlib.contextmanager
def serve_models(
    models: Sequence[str | os.PathLike] | Mapping[str, str | os.PathLike],
    port: int = 0,
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
) -> Iterator[ServerHandle]:
    """Context manager: serve ``models`` on 127.0.0.1 for the ``with`` block, then stop the server.

    >>> with serve_models(["ad01_fp32"]) as server:
    ...     OpenInferenceClient(server.url).infer("ad01_fp32", x)
    """
    handle = start_server(models, port=port, startup_timeout_s=startup_timeout_s)
    try:
        yield handle
    finally:
        handle.stop()

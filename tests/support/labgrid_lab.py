"""A labgrid lab on 127.0.0.1 made of real processes: a coordinator, exporters, places.

Each "host" of the lab is one ``labgrid-exporter`` publishing ``NetworkSerialPort``
resources (raw TCP) for serial lines served on 127.0.0.1 (here: emulated twins). Places are
created with ``labgrid-client``, as a lab administrator does. Only loopback is ever used.
Every process started here is stopped by :meth:`Lab.stop`, by its pid.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hilbench.lab.places import installed_tool

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def labgrid_tool(name: str) -> str:
    path = installed_tool(name)
    assert path, f"{name} is not installed: pip install 'hilbench[lab]'"
    return path


@dataclass
class Lab:
    """A coordinator on 127.0.0.1 and the exporters and places added to it."""

    folder: Path
    port: int = 0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def coordinator(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> "Lab":
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._spawn("coordinator", [labgrid_tool("labgrid-coordinator"), "-l", self.coordinator])
        self._wait(lambda: self.client("places").returncode == 0, "the coordinator to answer")
        return self

    def add_exporter(self, name: str, serial_ports: dict[str, int]) -> None:
        """An exporter called ``name`` publishing group -> TCP port as NetworkSerialPort."""
        config = {group: {"NetworkSerialPort": {"host": HOST, "port": port, "speed": 115200,
                                                "protocol": "raw"}}
                  for group, port in serial_ports.items()}
        path = self.folder / f"exporter-{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        self._spawn(f"exporter-{name}", [labgrid_tool("labgrid-exporter"), "-c", self.coordinator,
                                         "-n", name, "--hostname", HOST, str(path)])
        wanted = {f"{name}/{group}/NetworkSerialPort" for group in serial_ports}
        self._wait(lambda: wanted <= set(self.client("resources").stdout.split()),
                   f"exporter {name} to publish {sorted(wanted)}")

    def add_place(self, place: str, match: str, **tags: str) -> None:
        """A place holding the resources that ``match`` (EXPORTER/GROUP/CLASS) selects."""
        for command in (["create"], ["add-match", match],
                        ["set-tags", *[f"{k}={v}" for k, v in tags.items()]] if tags else None):
            if command:
                self.client("-p", place, *command, check=True)

    def client(self, *args: str, check: bool = False, user: str | None = None) -> subprocess.CompletedProcess:
        """Run labgrid-client against this lab (as ``user``, a colleague, when given)."""
        env = dict(os.environ)
        if user:
            env["LG_USERNAME"] = user
        result = subprocess.run([labgrid_tool("labgrid-client"), "-x", self.coordinator, *args],
                                capture_output=True, text=True, timeout=60, env=env,
                                stdin=subprocess.DEVNULL)
        if check:
            assert result.returncode == 0, f"labgrid-client {' '.join(args)}: {result.stderr}"
        return result

    def holder(self, place: str) -> str | None:
        """Who holds ``place`` now (labgrid's 'acquired:' line), or None."""
        for line in self.client("-p", place, "show", check=True).stdout.splitlines():
            if line.strip().startswith("acquired:"):
                value = line.split(":", 1)[1].strip()
                return None if value == "None" else value
        return None

    def kill(self, name: str) -> None:
        """Kill one process of the lab at once (a host going down)."""
        process = self.processes.pop(name)
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        """Stop every process of the lab, by pid, and wait for each."""
        processes = [self.processes.pop(name) for name in list(self.processes)]
        for process in processes:          # all at once: each may take a moment to exit
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.folder / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(command, cwd=self.folder, stdout=log,
                                                stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL)
        log.close()

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            crashed = [name for name, p in self.processes.items() if p.poll() is not None]
            assert not crashed, f"{crashed} exited while waiting for {what}: " + \
                "".join((self.folder / f"{n}.log").read_text() for n in crashed)
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.2)


def lab_file(path: Path, coordinator: str, places: dict[str, str], *, extends: str = "nano33",
             acquire_timeout_s: float = 20) -> Path:
    """A lab file: one emulated board per place (a twin the lab serves), extending ``extends``."""
    document = {
        "labgrid": {"coordinator": coordinator, "acquire_timeout_s": acquire_timeout_s,
                    "places": {board: {"place": place} for board, place in places.items()}},
        "boards": {board: {"extends": extends, "kind": "emulated"} for board in places},
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@dataclass
class ServedTwin:
    """A ``hilbench twin serve`` process: a twin as a lab host serves it."""

    process: subprocess.Popen
    facts: dict[str, str]

    @property
    def url(self) -> str:
        return self.facts["url"]

    def kill(self) -> None:
        """Kill it at once, as when its host goes down (QEMU dies with it)."""
        self.process.kill()
        self.process.wait(timeout=30)

    def close(self) -> None:
        """Stop it as an operator does (SIGTERM: it stops its QEMU and says 'stopped')."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stdout:
            self.process.stdout.close()


def start_twin(model: str, board: str = "nano33") -> ServedTwin:
    """``hilbench twin serve --board BOARD --model MODEL``, once it printed 'ready'."""
    import sys

    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "hilbench.cli", "twin", "serve", "--board", board, "--model", model],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(repo)})
    facts, lines = {}, []
    for line in process.stdout:
        lines.append(line)
        if line.strip() == "ready":
            return ServedTwin(process, facts)
        key, sep, value = line.strip().partition(": ")
        if sep:
            facts[key] = value
    process.wait(timeout=30)
    raise AssertionError("hilbench twin serve stopped before 'ready':\n" + "".join(lines))


def tcp_port(url: str) -> int:
    """The port of a ``socket://127.0.0.1:PORT`` URL."""
    return int(url.rsplit(":", 1)[1])

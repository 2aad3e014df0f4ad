"""The nightly lab workflow: runs on the lab runner, gates with compare, uploads artifacts, and
every hilbench command line in it is accepted by the stage's argument parser."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import yaml

from hilbench.report import SUBCOMMANDS
from hilbench.report.compare import parse_fail_on

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "nightly-lab.yml"


def load_workflow() -> dict:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on"
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def hilbench_commands(script: str) -> list[list[str]]:
    """hilbench command lines of a step, with expressions and variables filled in."""
    script = script.replace("\\\n", " ")
    script = re.sub(r"\$\{\{[^}]*\}\}", "X", script)
    script = script.replace('"${gates[@]}"', "--fail-on median:5%")
    script = re.sub(r"\$\{?[A-Za-z_]+\}?", "/tmp/x", script)
    commands = []
    for line in script.splitlines():
        line = line.split("|")[0].strip()
        if line.startswith(".venv/bin/hilbench "):
            commands.append(shlex.split(line)[1:])
    return commands


def test_runs_nightly_on_the_lab_runner_and_uploads_artifacts():
    workflow = load_workflow()
    assert "schedule" in workflow["on"] and "workflow_dispatch" in workflow["on"]
    job = workflow["jobs"]["benchmark"]
    assert "self-hosted" in job["runs-on"]
    steps = {step.get("name", ""): step for step in job["steps"]}
    suite = steps["Run the benchmark suite on every board"]["run"]
    assert "pytest --lab" in suite and "--board" in suite and "--results-dir" in suite
    upload = next(step for step in job["steps"]
                  if step.get("uses", "").startswith("actions/upload-artifact@"))
    for artifact in ("leaderboard.csv", "report.html", "compare.txt", "run/"):
        assert artifact in upload["with"]["path"]
    assert upload["if"].startswith("always()")


def test_every_hilbench_command_parses_and_default_gates_are_valid():
    workflow = load_workflow()
    job = workflow["jobs"]["benchmark"]
    commands = [command for step in job["steps"] for command in
                hilbench_commands(step.get("run", ""))]
    used = {command[0] for command in commands}
    assert {"leaderboard", "compare", "report"} <= used
    for command in commands:
        if command[0] not in SUBCOMMANDS:
            continue  # e.g. `boards`, owned by the board catalog
        _, add_arguments, _ = SUBCOMMANDS[command[0]]
        parser = argparse.ArgumentParser(prog=f"hilbench {command[0]}", exit_on_error=False)
        add_arguments(parser)
        parser.parse_args(command[1:])
    default_gates = re.search(r"'([^']*)' \}\}", job["env"]["FAIL_ON"]).group(1)
    for gate in default_gates.split():
        parse_fail_on(gate)


def test_every_workflow_passes_actionlint():
    """actionlint (from the test extra's wheel) checks syntax, expressions, runner labels
    (.github/actionlint.yaml) and, through shellcheck when installed, every run: script."""
    import shutil
    import subprocess

    from hilbench.lab.places import installed_tool

    actionlint = installed_tool("actionlint")
    assert actionlint, "actionlint is not installed: pip install 'hilbench[test]'"
    assert shutil.which("shellcheck"), "shellcheck is not installed: bash scripts/setup.sh"
    result = subprocess.run([actionlint],
                            cwd=WORKFLOW.parents[2], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

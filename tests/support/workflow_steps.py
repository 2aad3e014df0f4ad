"""Run a GitHub Actions job's shell steps here, as a runner would, for the tests.

Only what our workflows use is understood: ``env`` at job and step level, ``if`` conditions
and ``${{ }}`` expressions made of ``always()``, ``steps.ID.outcome``, ``steps.ID.outputs.NAME``,
``vars.NAME``, ``inputs.NAME``, ``github.workspace|run_number|sha``, string literals, ``||``,
``&&``, ``==`` and ``!=``. Steps with ``uses:`` (actions from the marketplace) are not run:
they are reported as skipped, for the test to say which.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")
_NAME = re.compile(r"\b(steps|vars|inputs|github)\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?(?:\.([A-Za-z_][\w-]*))?")


@dataclass
class StepResult:
    name: str
    outcome: str                       # success | failure | skipped
    outputs: dict[str, str] = field(default_factory=dict)
    output: str = ""


@dataclass
class JobRun:
    steps: list[StepResult]
    summary: str

    def step(self, name: str) -> StepResult:
        return next(step for step in self.steps if step.name == name)


def run_job(job: dict, workspace: Path, *, variables: dict[str, str], skip: tuple[str, ...] = (),
            environment: dict[str, str] | None = None, timeout_s: float = 900) -> JobRun:
    """Run ``job``'s steps in ``workspace``; ``skip`` names run: steps not to run."""
    results: dict[str, StepResult] = {}
    done: list[StepResult] = []
    summary = workspace / "step-summary.md"
    summary.write_text("")
    context = {"vars": variables, "inputs": {}, "steps": results,
               "github": {"workspace": str(workspace), "run_number": "1", "sha": "0" * 40}}
    job_env = {key: _substitute(str(value), context) for key, value in (job.get("env") or {}).items()}
    for index, step in enumerate(job["steps"]):
        name = step.get("name") or step.get("uses") or f"step {index}"
        condition = step.get("if", "success()")
        failed = any(result.outcome == "failure" for result in done)
        if "uses" in step or name in skip or not _condition(condition, context, failed):
            result = StepResult(name, "skipped")
        else:
            outputs_file = workspace / f".github-output-{index}"
            outputs_file.write_text("")
            env = {**os.environ, **(environment or {}), **job_env,
                   **{k: _substitute(str(v), context) for k, v in (step.get("env") or {}).items()},
                   "GITHUB_OUTPUT": str(outputs_file), "GITHUB_STEP_SUMMARY": str(summary),
                   "GITHUB_WORKSPACE": str(workspace)}
            script = _substitute(step["run"], context)
            process = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                                     cwd=workspace, env=env, capture_output=True, text=True,
                                     timeout=timeout_s, stdin=subprocess.DEVNULL)
            outputs = dict(line.split("=", 1) for line in outputs_file.read_text().splitlines() if "=" in line)
            result = StepResult(name, "success" if process.returncode == 0 else "failure", outputs,
                                process.stdout + process.stderr)
        done.append(result)
        if step.get("id"):
            results[step["id"]] = result
    return JobRun(done, summary.read_text())


def _value(match: re.Match, context: dict) -> str:
    kind, first, second, third = match.groups()
    if kind == "steps":
        step = context["steps"].get(first)
        if step is None:
            return ""
        return step.outcome if second == "outcome" else step.outputs.get(third or "", "")
    return str(context[kind].get(first, ""))


def _evaluate(expression: str, context: dict, failed: bool = False) -> object:
    python = _NAME.sub(lambda m: repr(_value(m, context)), expression)
    python = python.replace("always()", "True").replace("success()", repr(not failed))
    python = python.replace("&&", " and ").replace("||", " or ")
    return eval(python, {"__builtins__": {}}, {})   # only literals and operators remain


def _substitute(text: str, context: dict) -> str:
    return _EXPRESSION.sub(lambda m: str(_evaluate(m.group(1), context)), text)


def _condition(condition: str, context: dict, failed: bool) -> bool:
    condition = _EXPRESSION.sub(lambda m: m.group(1), str(condition))
    if "always()" not in condition and "success()" not in condition:
        condition = f"success() && ({condition})"
    return bool(_evaluate(condition, context, failed))

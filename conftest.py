"""Repository root: decides what `pytest` collects here.

- `pytest` / `pytest tests` (no --board): the project's unit tests; the reference benchmark
  suite (tests/benchmark_suite/) is not collected.
- `pytest --board=B [--model=M ...]`: the reference benchmark suite only, one test per
  board x model. Name paths explicitly (`pytest --board=host tests`) to run both.
- `pytest tests/benchmark_suite` without --board: its tests are collected and skipped,
  saying which option they need.
"""

from pathlib import Path

import pytest

BENCHMARK_SUITE = Path(__file__).resolve().parent / "tests" / "benchmark_suite"


def _within_suite(path: Path) -> bool:
    return path == BENCHMARK_SUITE or BENCHMARK_SUITE in path.parents


def _suite_named_on_command_line(config: pytest.Config) -> bool:
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return False
    paths = (Path(config.invocation_params.dir, arg.split("::")[0]).resolve() for arg in config.args)
    return any(_within_suite(path) for path in paths)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    inside_suite = _within_suite(collection_path)
    if not config.getoption("board", default=None):
        return True if inside_suite and not _suite_named_on_command_line(config) else None
    if config.args_source is pytest.Config.ArgsSource.ARGS:
        return None  # the user named what to run
    if inside_suite or collection_path in BENCHMARK_SUITE.parents:
        return None
    return True

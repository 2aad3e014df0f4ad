"""Repository root: decides what `pytest` collects here.

- `pytest` / `pytest tests` (no --board): the project's unit tests; the reference benchmark
  suite (tests/benchmark_suite/) is never collected.
- `pytest --board=B [--model=M ...]`: the reference benchmark suite only, one test per
  board x model. Name paths explicitly (`pytest --board=host tests`) to run both.
"""

from pathlib import Path

import pytest

BENCHMARK_SUITE = Path(__file__).resolve().parent / "tests" / "benchmark_suite"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    inside_suite = collection_path == BENCHMARK_SUITE or BENCHMARK_SUITE in collection_path.parents
    if not config.getoption("board", default=None):
        return True if inside_suite else None
    if config.args_source is pytest.Config.ArgsSource.ARGS:
        return None  # the user named what to run
    if inside_suite or collection_path in BENCHMARK_SUITE.parents:
        return None
    return True

"""Repository root: decides what `pytest` collects here.

- `pytest` / `pytest tests` (no --board): the project's unit tests.
- `pytest --board=B [--model=M ...]`: the reference benchmark suite only (the plugin adds it
  from hilbench/suite/), not the project's unit tests. Name paths explicitly
  (`pytest --board=host tests`) to run those with a board.
"""

from pathlib import Path

import pytest

PROJECT_TESTS = Path(__file__).resolve().parent / "tests"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if not config.getoption("board", default=None) or \
            config.args_source is pytest.Config.ArgsSource.ARGS:
        return None   # no board, or the user named what to run
    inside_tests = collection_path == PROJECT_TESTS or PROJECT_TESTS in collection_path.parents
    return True if inside_tests else None

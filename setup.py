"""Build step that pyproject.toml cannot say by itself: the top-level firmware_targets/ and
models_zoo/ folders (kept at the top of the repository, as the design card lays it out) travel
inside the package as hilbench/firmware_targets and hilbench/models_zoo, where
hilbench/paths.py finds them in an installed copy. Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import find_packages, setup


def data_files(folder: str) -> list[str]:
    """Every file under ``folder`` that is not Python code, relative to it: data added later
    (a board file, a table) ships without anyone editing this list."""
    root = Path(__file__).resolve().parent / folder
    return sorted(str(path.relative_to(root)) for path in root.rglob("*")
                  if path.is_file() and path.suffix not in (".py", ".pyc")
                  and "__pycache__" not in path.parts)


# package inside the wheel -> folder in the repository
BUNDLED = {"hilbench.firmware_targets": "firmware_targets", "hilbench.models_zoo": "models_zoo"}

setup(
    packages=find_packages(include=["hilbench", "hilbench.*"]) + list(BUNDLED),
    package_dir=BUNDLED,
    # the zoo ships its data (models, cards, test vectors), not its regeneration code
    package_data={"hilbench": data_files("hilbench"),
                  **{package: data_files(folder) for package, folder in BUNDLED.items()}},
)

"""Build step that pyproject.toml cannot say by itself: the top-level firmware_targets/ and
models_zoo/ folders (kept at the top of the repository, as the design card lays it out) travel
inside the package as hilbench/firmware_targets and hilbench/models_zoo, where
hilbench/paths.py finds them in an installed copy. Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# package inside the wheel -> folder in the repository
BUNDLED = {"hilbench": "hilbench", "hilbench.firmware_targets": "firmware_targets",
           "hilbench.models_zoo": "models_zoo"}
# The zoo ships its data (models, cards, test vectors), not its regeneration code: the installed
# package reads the zoo's files and never imports models_zoo.
DATA_ONLY = "hilbench.models_zoo"


def bundle(package: str, folder: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """({package: folder}, {package: its data files}) for ``folder`` and every folder under it.

    Every folder whose path is a valid package name is declared a package, data folders too:
    Python imports any such folder (as a namespace package), and setuptools warns about one it
    was not told of. A file that is not Python code belongs to the nearest such folder above it,
    so data added later (a board file, a table) ships without anyone editing this file.
    """
    root = ROOT / folder
    package_of = {}
    for directory in [root, *sorted(path for path in root.rglob("*") if path.is_dir())]:
        parts = directory.relative_to(root).parts
        if "__pycache__" not in parts and all(part.isidentifier() for part in parts):
            package_of[directory] = ".".join((package, *parts))
    data = {name: [] for name in package_of.values()}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        owner = path.parent
        while owner not in package_of:
            owner = owner.parent
        data[package_of[owner]].append(str(path.relative_to(owner)))
    folders = {name: str(directory.relative_to(ROOT)) for directory, name in package_of.items()}
    return folders, data


class BuildPyWithoutZooCode(build_py):
    """build_py that leaves the Python modules of DATA_ONLY's packages out of the wheel."""

    def find_package_modules(self, package, package_dir):
        if package == DATA_ONLY or package.startswith(DATA_ONLY + "."):
            return []
        return super().find_package_modules(package, package_dir)


package_dir, package_data = {}, {}
for package, folder in BUNDLED.items():
    folders, data = bundle(package, folder)
    package_dir.update(folders)
    package_data.update(data)

setup(
    packages=sorted(package_dir),
    package_dir=package_dir,
    package_data=package_data,
    cmdclass={"build_py": BuildPyWithoutZooCode},
)

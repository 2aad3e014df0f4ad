"""Build step that pyproject.toml cannot say by itself: the top-level firmware_targets/ and
models_zoo/ folders (kept at the top of the repository, as the design card lays it out) travel
inside the package as hilbench/firmware_targets and hilbench/models_zoo, where
hilbench/paths.py finds them in an installed copy. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

# package inside the wheel -> folder in the repository, and the files it carries
BUNDLED = {
    "hilbench.firmware_targets": ("firmware_targets", ["**/*.c", "**/*.cpp", "**/*.h", "**/*.ld",
                                                       "**/*.in", "**/*.md", "**/*.repl", "**/*.yaml"]),
    # the zoo's data (models, cards, test vectors), not its TensorFlow regeneration code
    "hilbench.models_zoo": ("models_zoo", ["README.md", "*/card.yaml", "*/*.tflite", "*/vectors.npz"]),
}

setup(
    packages=find_packages(include=["hilbench", "hilbench.*"]) + list(BUNDLED),
    package_dir={name: folder for name, (folder, _) in BUNDLED.items()},
    package_data={"hilbench": ["**/*.yaml", "**/*.html", "*.csv", "calibration/data/*.csv",
                               "calibration/data/*.md"],
                  **{name: patterns for name, (_, patterns) in BUNDLED.items()}},
)

"""The build stage: firmware for one target from the DUT core, a HAL recipe and a compiled model."""

from hilbench.build.builder import OPT_LEVELS, Firmware, ModelSources, build_firmware
from hilbench.build.recipe import TargetRecipe, known_targets, load_recipe

__all__ = ["OPT_LEVELS", "Firmware", "ModelSources", "TargetRecipe", "build_firmware", "known_targets", "load_recipe"]

"""Errors that hilbench shows to users.

Every error names the thing that is wrong and what to do about it. Front ends (the CLI and
the pytest plugin) print ``str(error)`` without a traceback for these classes.
"""


class HilbenchError(Exception):
    """Base class for errors caused by user input or the environment, not by a bug."""


class ConfigError(HilbenchError):
    """A board catalog or lab file is malformed, or names something unknown."""


class ModelError(HilbenchError):
    """A model file is corrupt, or uses an operator/dtype the runtime cannot run."""


class BuildError(HilbenchError):
    """A firmware build failed (compiler missing or compile error)."""


class DeployError(HilbenchError):
    """Flashing a board or starting an emulator/host process failed."""


class DutError(HilbenchError):
    """The device under test did not answer as the serial protocol says."""


class MeasurementError(HilbenchError):
    """A measurement could not be made honestly (e.g. a capture with missing edges)."""

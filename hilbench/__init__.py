"""hilbench: hardware-in-the-loop benchmarking for TinyML."""

__version__ = "0.1.0"

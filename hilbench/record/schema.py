"""The result row: one per (board, model, runtime, mode), the leaderboard CSV's columns.

These columns are a contract (see ARCHITECTURE.md "Result row"); add new columns at the end
and bump SCHEMA_VERSION when a column changes meaning.
"""

SCHEMA_VERSION = 1

RESULT_COLUMNS = (
    "schema_version", "run_id", "timestamp", "git_sha", "hilbench_version",
    "board", "mode", "core", "clock_hz",
    "model", "runtime",
    "latency_source", "latency_ms_p50", "latency_ms_p90", "cycles_per_inference",
    "energy_source", "energy_uj",
    "accuracy", "accuracy_float", "accuracy_delta", "bitexact_rate",
    "flash_bytes", "ram_bytes",
    "cloud_latency_ms", "bytes_on_air_edge", "bytes_on_air_cloud",
    "cpi", "cpi_source",
)
# Columns added after schema_version 1 was first written, at the end and with no change of
# meaning: a file without them is still read (they come out empty), so older runs and
# leaderboards stay readable.
LATER_COLUMNS = ("cpi", "cpi_source")

MODES = ("hardware", "emulated", "host")
LATENCY_SOURCES = ("device-timer", "icount", "host-clock")
ENERGY_SOURCES = ("probe", "capture", "model", "")

# --- Column kinds and units -------------------------------------------------------------
# Rates (accuracy, accuracy_float, bitexact_rate) are fractions in [0, 1]; accuracy_delta is
# device minus float in the same unit, so 1 percentage point ("1pt") is 0.01.

NUMERIC_COLUMNS = frozenset({
    "schema_version", "clock_hz",
    "latency_ms_p50", "latency_ms_p90", "cycles_per_inference",
    "energy_uj",
    "accuracy", "accuracy_float", "accuracy_delta", "bitexact_rate",
    "flash_bytes", "ram_bytes",
    "cloud_latency_ms", "bytes_on_air_edge", "bytes_on_air_cloud",
    "cpi",
})
TEXT_COLUMNS = frozenset(RESULT_COLUMNS) - NUMERIC_COLUMNS

# One leaderboard row per key: a board measured emulated and on hardware gives two rows.
KEY_COLUMNS = ("board", "model", "runtime", "mode")
REQUIRED_COLUMNS = ("board", "model", "runtime", "mode")

FRACTION_COLUMNS = frozenset({"accuracy", "accuracy_float", "bitexact_rate"})
NON_NEGATIVE_COLUMNS = NUMERIC_COLUMNS - {"accuracy_delta"}

# Which label says where a figure came from (ARCHITECTURE.md "Measurement honesty").
LATENCY_FIGURES = ("latency_ms_p50", "latency_ms_p90", "cycles_per_inference")
ENERGY_FIGURES = ("energy_uj",)

# Latency sources each mode can honestly produce: QEMU's instruction count exists only in
# emulation, and nothing but the host clock times a host build.
LATENCY_SOURCES_BY_MODE = {
    "hardware": ("device-timer", "host-clock"),
    "emulated": ("icount", "host-clock"),
    "host": ("host-clock",),
}
# A probe or a capture measures a real board; an emulator's energy can only be modeled.
ENERGY_SOURCES_BY_MODE = {
    "hardware": ("probe", "capture", "model", ""),
    "emulated": ("model", ""),
    "host": ("",),
}

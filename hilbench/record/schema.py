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
)

MODES = ("hardware", "emulated", "host")
LATENCY_SOURCES = ("device-timer", "icount", "host-clock")
ENERGY_SOURCES = ("probe", "capture", "model", "")

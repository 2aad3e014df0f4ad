"""Record stage: result rows (schema, validation, CSV) and the per-run results store."""

from hilbench.record.rows import ResultsError, read_results_csv, validate_row, write_results_csv
from hilbench.record.store import (
    RunRecorder,
    default_results_root,
    list_runs,
    load_results,
    load_run,
    new_run_id,
)

__all__ = ["ResultsError", "RunRecorder", "default_results_root", "list_runs", "load_results",
           "load_run", "new_run_id", "read_results_csv", "validate_row", "write_results_csv"]

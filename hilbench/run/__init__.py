"""The run stage: stream vectors through a DUT session and take on-device timings.

Outputs come from one 'infer 1 0' per vector: a DUT in the MLPerf Tiny style loads its input
once per 'infer' command, so with N+W > 1 its later inferences may run on an input that the
model overwrote. Timings come from 'infer N W'. time_inferences() compares the outputs after
'infer N W' with those after 'infer 1 0' on the same input and warns when they differ.
"""

from hilbench.run.runner import (
    HarnessTimes,
    OutputsChangedWarning,
    TicksDroppedWarning,
    TimingRun,
    VectorRun,
    join_vector_runs,
    run_vectors,
    split_output_tensors,
    time_inferences,
)

__all__ = ["HarnessTimes", "join_vector_runs", "OutputsChangedWarning", "TicksDroppedWarning", "TimingRun", "VectorRun", "run_vectors", "split_output_tensors", "time_inferences"]

"""The session stage: a DUT speaking the serial protocol (docs/protocol.md) over a pyserial URL."""

from hilbench.session.dut_session import DB_CHUNK_BYTES, DutSession, InferResult
from hilbench.session.replies import Capabilities
from hilbench.session.serial_log import LogEntry, SerialLog

__all__ = ["DB_CHUNK_BYTES", "Capabilities", "DutSession", "InferResult", "LogEntry", "SerialLog"]

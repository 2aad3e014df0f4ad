"""Hold a labgrid place while a board runs: reserve, acquire, use its serial port, release.

hilbench is a labgrid *client*: the coordinator (``labgrid-coordinator``) decides who holds
which place, exporters on each lab host publish the boards' resources, and this module asks
for a place the way ``labgrid-client reserve --wait`` and ``acquire`` do:

1. a reservation whose filter is the place's name (or the board's tags), polled until the
   coordinator allocates a place, for at most ``acquire_timeout_s``;
2. ``AcquirePlace`` on the allocated place; its ``NetworkSerialPort`` (raw TCP or RFC 2217)
   becomes the board's serial line;
3. ``ReleasePlace`` and the reservation cancelled when the board x model is done, and on
   exit, Ctrl-C and SIGTERM (see :mod:`hilbench.deploy.procs`).

A place someone else holds is waited for, then reported with its holder's name. An
unreachable coordinator is reported before anything is built (:func:`check_lab_boards`).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from hilbench.deploy import Endpoint, procs
from hilbench.errors import DeployError
from hilbench.lab.config import BoardPlace

if TYPE_CHECKING:
    from hilbench.boards import ResolvedBoard

POLL_INTERVAL_S = 0.5
SERIAL_RESOURCE = "NetworkSerialPort"
# USB resources that labgrid exports and hilbench can use: a debug probe to flash through
# (its serial number picks the probe), and a Joulescope power probe (matched by USB id).
USB_FLASH_RESOURCES = ("USBDebugger",)
JOULESCOPE_USB_VENDOR = "16d0"


class LabError(DeployError):
    """The labgrid coordinator, a place or its resources cannot be used as the lab file says."""


@dataclass(frozen=True)
class PlaceResource:
    """One resource of an acquired place: its class and its parameters as the exporter published them."""

    name: str
    cls: str
    params: Mapping[str, object]
    exporter: str
    available: bool


@dataclass
class HeldPlace:
    """A place this process holds: release it with :meth:`LabgridSession.release`."""

    board: BoardPlace
    name: str
    token: str
    resources: list[PlaceResource] = field(default_factory=list)

    def serial_url(self) -> str:
        """The pyserial URL of the place's NetworkSerialPort."""
        ports = [r for r in self.resources if r.cls == SERIAL_RESOURCE]
        if not ports:
            found = ", ".join(sorted({r.cls for r in self.resources})) or "none"
            raise LabError(f"labgrid place {self.name} (board '{self.board.board}') has no "
                           f"{SERIAL_RESOURCE} (its resources: {found}); add a match for the "
                           "board's serial port: labgrid-client -p "
                           f"{self.name} add-match EXPORTER/GROUP/{SERIAL_RESOURCE}")
        port = ports[0]
        if not port.available:
            raise LabError(f"the serial port of labgrid place {self.name} (board "
                           f"'{self.board.board}') is unavailable: exporter '{port.exporter}' "
                           "is gone or lost the port; check labgrid-exporter on that host")
        scheme = "socket" if port.params.get("protocol") == "raw" else "rfc2217"
        return f"{scheme}://{port.params['host']}:{port.params['port']}"

    def usb_resources(self) -> list[PlaceResource]:
        """The place's exported USB debug probes and power probes."""
        return [r for r in self.resources if r.cls in USB_FLASH_RESOURCES
                or str(r.params.get("vendor_id", "")).lower() == JOULESCOPE_USB_VENDOR]


class LabgridSession:
    """One client connection to a labgrid coordinator, shared by this process's boards."""

    def __init__(self, coordinator: str):
        self.coordinator = coordinator
        try:
            from labgrid.remote.client import Error as ClientError, start_session
        except ImportError:
            raise LabError("the lab file has a labgrid section but labgrid is not installed: "
                           "pip install 'hilbench[lab]'") from None
        # labgrid logs the gRPC failure itself before raising; the error below says it better.
        logging.getLogger().addFilter(_quiet_coordinator_unavailable)
        try:
            self._session = start_session(coordinator)
        except (ClientError, OSError) as error:
            raise LabError(
                f"labgrid coordinator {coordinator} is unreachable ({error}); start "
                f"labgrid-coordinator there, or fix labgrid.coordinator in the lab file") from None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ what the coordinator knows

    def refresh(self) -> None:
        """Process the coordinator's pending place and resource updates."""
        self._run(self._session.sync_with_coordinator())

    def places(self) -> dict:
        """labgrid Place records by name, as of the last refresh."""
        return dict(self._session.places)

    def matching_places(self, board: BoardPlace) -> list:
        """The places a board's reservation filter can be given."""
        wanted = set(board.reservation_filter.items())
        return [place for name, place in sorted(self.places().items())
                if wanted <= set(place.tags.items()) | {("name", name)}]

    def check(self, board: BoardPlace) -> None:
        """Fail now, before any build, when no place of the coordinator fits the board."""
        if self.matching_places(board):
            return
        known = ", ".join(sorted(self.places())) or "none"
        raise LabError(f"board '{board.board}': labgrid coordinator {self.coordinator} has no "
                       f"{board.describe()} (places: {known}); create it with labgrid-client "
                       "create / set-tags, or fix labgrid.places in the lab file")

    # ------------------------------------------------------------ holding a place

    def hold(self, board: BoardPlace) -> HeldPlace:
        """Reserve and acquire a place for ``board``; wait at most its acquire_timeout_s."""
        from labgrid.remote.common import Reservation, ReservationState
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        request = pb.CreateReservationRequest(
            filters={"main": pb.Reservation.Filter(filter=board.reservation_filter)}, prio=0)
        token = Reservation.from_pb2(self._rpc("CreateReservation", request).reservation).token
        # Remembered from now on: exit and signals cancel the reservation (and release the
        # place once it has a name), even in the middle of what follows.
        held = HeldPlace(board, "", token)
        _remember(self, held)
        deadline = time.monotonic() + board.acquire_timeout_s
        try:
            while True:
                reservation = Reservation.from_pb2(self._rpc(
                    "PollReservation", pb.PollReservationRequest(token=token)).reservation)
                if reservation.state is ReservationState.allocated:
                    [held.name] = reservation.allocations["main"]
                    break
                if reservation.state is not ReservationState.waiting:
                    raise LabError(f"labgrid reservation for board '{board.board}' ended as "
                                   f"{reservation.state.name} before a place was free")
                if time.monotonic() > deadline:
                    raise LabError(self._held_by_others_message(board))
                time.sleep(POLL_INTERVAL_S)
            self._rpc("AcquirePlace", pb.AcquirePlaceRequest(placename=held.name))
        except BaseException:
            _forget(held)
            self._cancel(token)
            raise
        try:
            self.refresh()
            held.resources = self._resources_of(held.name)
        except BaseException:
            with contextlib.suppress(LabError):
                self.release(held)
            raise
        return held

    def release(self, held: HeldPlace) -> None:
        """Give the place back and drop its reservation. Safe to call twice."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        if not _forget(held):
            return
        try:
            self._rpc("ReleasePlace", pb.ReleasePlaceRequest(placename=held.name))
        finally:
            self._cancel(held.token)

    def _resources_of(self, name: str) -> list[PlaceResource]:
        place = self.places()[name]
        resources = []
        for exporter, group, cls, resource_name in place.acquired_resources:
            entry = self._session.resources.get(exporter, {}).get(group, {}).get(resource_name)
            if entry is not None:
                resources.append(PlaceResource(f"{exporter}/{group}/{resource_name}", entry.cls,
                                               dict(entry.args), exporter, bool(entry.avail)))
        return resources

    def _held_by_others_message(self, board: BoardPlace) -> str:
        self.refresh()
        holders = [f"{place.name} is held by {place.acquired}" if place.acquired
                   else f"{place.name} is reserved ({place.reservation})"
                   for place in self.matching_places(board)]
        return (f"board '{board.board}': no {board.describe()} became free within "
                f"{board.acquire_timeout_s:g} s on labgrid coordinator {self.coordinator}: "
                f"{'; '.join(holders) or 'no such place'}. Ask its holder to release it "
                "(labgrid-client -p PLACE release), or raise labgrid.acquire_timeout_s")

    def _cancel(self, token: str) -> None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        with contextlib.suppress(LabError):
            self._rpc("CancelReservation", pb.CancelReservationRequest(token=token))

    def _rpc(self, method: str, request):
        import grpc

        try:
            return self._run(getattr(self._session.stub, method)(request))
        except grpc.aio.AioRpcError as error:
            raise LabError(f"labgrid coordinator {self.coordinator}: {method} failed: "
                           f"{error.details() or error.code().name}") from None

    def _run(self, awaitable):
        with self._lock:
            return self._session.loop.run_until_complete(awaitable)


def installed_tool(name: str) -> str | None:
    """A command installed with hilbench's Python: beside it (a virtual environment's bin/,
    which need not be on PATH), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.is_file() else shutil.which(name)


def _quiet_coordinator_unavailable(record: logging.LogRecord) -> bool:
    return not str(record.getMessage()).startswith("coordinator is unavailable")


# ---------------------------------------------------------------- sessions and held places

_sessions: dict[str, LabgridSession] = {}
_held: dict[int, tuple[LabgridSession, HeldPlace]] = {}
_held_lock = threading.Lock()


def session_for(coordinator: str) -> LabgridSession:
    """This process's session with ``coordinator`` (connected on first use)."""
    if coordinator not in _sessions:
        _sessions[coordinator] = LabgridSession(coordinator)
    return _sessions[coordinator]


def _remember(session: LabgridSession, held: HeldPlace) -> None:
    with _held_lock:
        if not _held:
            procs.on_exit(release_all_places)
        _held[id(held)] = (session, held)


def _forget(held: HeldPlace) -> bool:
    with _held_lock:
        return _held.pop(id(held), None) is not None


def release_all_places() -> None:
    """Release every place this process still holds: at exit, on Ctrl-C and on SIGTERM.

    It may run inside a signal handler, while the session's event loop is busy, so it asks
    a separate ``labgrid-client`` process to release (the same user and host as ours).
    """
    with _held_lock:
        held = list(_held.values())
        _held.clear()
    client = installed_tool("labgrid-client")
    for session, place in held:
        if client is None:
            continue
        commands = [["-p", place.name, "release"]] if place.name else []
        for command in commands + [["cancel-reservation", place.token]]:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run([client, "-x", session.coordinator, *command], timeout=10,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- front-end helpers


def check_lab_boards(boards: Sequence[ResolvedBoard]) -> None:
    """Connect to each coordinator the boards need and check their places exist.

    Raises LabError (coordinator unreachable, no such place) before anything is built.
    """
    for board in boards:
        if board.lab_place is not None:
            session_for(board.lab_place.coordinator).check(board.lab_place)


def place_holders(places: Iterable[BoardPlace]) -> dict[str, str]:
    """Per board: its place(s) and who holds them now, for ``hilbench boards --lab``."""
    shown = {}
    for board in places:
        try:
            session = session_for(board.coordinator)
            session.refresh()
            matching = session.matching_places(board)
        except LabError as error:
            shown[board.board] = f"{board.describe()}: {error}"
            continue
        states = [f"{place.name} held by {place.acquired}" if place.acquired
                  else f"{place.name} free" for place in matching]
        shown[board.board] = "; ".join(states) or f"{board.describe()}: no such place"
    return shown


def place_endpoint(board: ResolvedBoard, firmware) -> Endpoint:
    """Hold the board's place and reach it; flash ``firmware`` first when it is not None.

    The place stays held until the endpoint is closed (the board x model is done), or the
    process exits. A twin that the lab serves gets a TwinEndpoint: its ticks become
    instructions at the board's ``twin.icount_shift``.
    """
    from hilbench.deploy.qemu import TwinEndpoint

    session = session_for(board.lab_place.coordinator)
    held = session.hold(board.lab_place)
    try:
        url = held.serial_url()
        command: tuple[str, ...] = ()
        if firmware is not None:
            command = _flash_through_place(board, held, url, firmware)
        facts = dict(url=url, mode=board.mode, command=command,
                     description=f"{board.name} on labgrid place {held.name} ({url})",
                     cleanups=[lambda: _release_quietly(session, held)])
        if board.mode == "emulated":
            return TwinEndpoint(latency_source="icount",
                                icount_shift=board.board.twin.icount_shift, **facts)
        return Endpoint(latency_source="device-timer", **facts)
    except BaseException:
        session.release(held)
        raise


def _release_quietly(session: LabgridSession, held: HeldPlace) -> None:
    try:
        session.release(held)
    except LabError as error:   # the coordinator went away: it drops the place itself on restart
        logging.getLogger(__name__).warning("%s", error)


def _flash_through_place(board: ResolvedBoard, held: HeldPlace, url: str, firmware) -> tuple[str, ...]:
    """Flash through the place's exported debug probe, which must be on this host."""
    import dataclasses
    import socket

    from hilbench.deploy.flash import flash_board

    probes = [r for r in held.usb_resources() if r.cls in USB_FLASH_RESOURCES]
    if not probes:
        raise LabError(f"board '{board.name}' on labgrid place {held.name} has no exported "
                       f"debug probe ({', '.join(USB_FLASH_RESOURCES)}) to flash through; export "
                       "it on the board's host, or flash the board yourself and set its "
                       "flasher.kind: none in the lab file")
    probe = probes[0]
    host = str(probe.params.get("host", ""))
    if host not in ("localhost", "127.0.0.1", socket.gethostname(), socket.getfqdn()):
        raise LabError(f"board '{board.name}': the debug probe of labgrid place {held.name} is "
                       f"on host {host}; flashing runs on the host that has the probe, so run "
                       "this board's job on that host (one runner per lab host, docs/lab.md)")
    flasher = dataclasses.replace(board.board.flasher,
                                  probe_serial=str(probe.params.get("serial") or "") or None)
    local = dataclasses.replace(board, port=url,
                                board=dataclasses.replace(board.board, flasher=flasher))
    return tuple(flash_board(local, firmware).command)

"""Flash and RAM footprint of a firmware ELF, and a worst-case stack estimate.

Sections are classified by their ELF flags, not by name, so any linker script works:

- ``text``: allocated and executable (code, vectors);
- ``rodata``: allocated, not writable, not executable (constants, model weights);
- ``data``: allocated, writable, with contents (initialised variables: their initial
  values are stored in flash and copied to RAM at start-up, so they count in both);
- ``bss``: allocated, writable, no contents (zeroed variables, the tensor arena, and any
  stack/heap reservation the linker script makes).

``flash_bytes = text + rodata + data`` and ``ram_bytes = data + bss``.

Stack: GCC's ``-fstack-usage`` writes each function's frame size to a ``.su`` file, and
``-fcallgraph-info=su`` writes the call graph with the same sizes to a ``.ci`` file. With
``.ci`` files the estimate is the largest sum of frames along any call path from the entry
function (``main`` by default); it is an upper bound only when ``stack_bounded`` is true:
recursion, dynamic (alloca/VLA) frames, calls through pointers and calls into code compiled
without these flags (e.g. the C library) make it a lower bound, listed in ``stack_caveats``.
With only ``.su`` files there is no call graph, and the estimate is the largest single frame
(a lower bound, ``stack_method="largest-frame"``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from hilbench.errors import MeasurementError

_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR = 0x1, 0x2, 0x4
_SHT_NOBITS = "SHT_NOBITS"


@dataclass(frozen=True)
class StackEstimate:
    """Worst-case stack use and how far to trust it."""

    stack_bytes: int
    stack_method: str  # "call-graph" | "largest-frame"
    stack_bounded: bool
    worst_path: tuple[str, ...]
    stack_caveats: tuple[str, ...]


@dataclass(frozen=True)
class Footprint:
    """Memory footprint of one firmware image, in bytes."""

    elf: str
    text_bytes: int
    rodata_bytes: int
    data_bytes: int
    bss_bytes: int
    flash_bytes: int
    ram_bytes: int
    arena_bytes: int | None
    stack: StackEstimate | None = None
    sections: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """All fields as a plain dict."""
        return asdict(self)

    def result_columns(self) -> dict:
        """The fields that fill leaderboard columns."""
        return {"flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes}


def _open_elf(path: Path):
    try:
        from elftools.elf.elffile import ELFFile
        from elftools.common.exceptions import ELFError
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise MeasurementError("footprint needs pyelftools, a dependency of hilbench: pip install --force-reinstall hilbench") from error
    handle = open(path, "rb")
    try:
        return handle, ELFFile(handle)
    except ELFError as error:
        handle.close()
        raise MeasurementError(f"{path} is not an ELF file ({error}); give the firmware .elf") from error


def _symbol_size(elf, name: str) -> int | None:
    symbols = elf.get_section_by_name(".symtab")
    if symbols is None:
        raise MeasurementError(
            "the ELF has no symbol table (stripped); give the unstripped firmware .elf to find "
            f"the arena symbol {name!r}")
    found = symbols.get_symbol_by_name(name)
    return None if not found else int(found[0]["st_size"])


def elf_footprint(elf_path: str | Path, arena_symbol: str | None = None,
                  stack_files: Iterable[str | Path] = (), stack_entry: str = "main") -> Footprint:
    """Flash, RAM (and arena) bytes of ``elf_path``; with ``stack_files`` (.ci and/or .su
    files, or folders holding them) also a stack estimate from ``stack_entry``."""
    path = Path(elf_path)
    if not path.is_file():
        raise MeasurementError(f"firmware ELF {str(path)!r} does not exist; build the firmware first")
    handle, elf = _open_elf(path)
    with handle:
        sizes = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
        sections = {}
        for section in elf.iter_sections():
            flags = section["sh_flags"]
            if not flags & _SHF_ALLOC or section["sh_size"] == 0:
                continue
            if flags & _SHF_EXECINSTR:
                kind = "text"
            elif not flags & _SHF_WRITE:
                kind = "rodata"
            elif section["sh_type"] == _SHT_NOBITS:
                kind = "bss"
            else:
                kind = "data"
            sizes[kind] += int(section["sh_size"])
            sections[section.name] = {"kind": kind, "bytes": int(section["sh_size"])}
        arena = None
        if arena_symbol is not None:
            arena = _symbol_size(elf, arena_symbol)
            if arena is None:
                raise MeasurementError(
                    f"arena symbol {arena_symbol!r} is not in {path.name}; check the firmware's "
                    "arena variable name")
    stack_paths = list(stack_files)
    return Footprint(
        elf=str(path),
        text_bytes=sizes["text"],
        rodata_bytes=sizes["rodata"],
        data_bytes=sizes["data"],
        bss_bytes=sizes["bss"],
        flash_bytes=sizes["text"] + sizes["rodata"] + sizes["data"],
        ram_bytes=sizes["data"] + sizes["bss"],
        arena_bytes=arena,
        stack=estimate_stack(stack_paths, stack_entry) if stack_paths else None,
        sections=sections,
    )


# --- stack ------------------------------------------------------------------------------------

# ".su" line: "path/file.c:12:5:function_name<TAB>bytes<TAB>static|dynamic|dynamic,bounded"
_SU_LINE = re.compile(r"^(?P<where>.*):(?P<name>[^:\t]+)\t(?P<bytes>\d+)\t(?P<kind>[\w,]+)\s*$")
# ".ci" (VCG) lines written by -fcallgraph-info=su
_CI_NODE = re.compile(r'node: \{ title: "(?P<title>[^"]+)" label: "(?P<label>[^"]*)"')
_CI_FRAME = re.compile(r"\\n(?P<bytes>\d+) bytes \((?P<kind>[\w,]+)\)")
_CI_EDGE = re.compile(r'edge: \{ sourcename: "(?P<src>[^"]+)" targetname: "(?P<dst>[^"]+)"')
_INDIRECT_CALL = "__indirect_call"


def _collect(paths: Iterable[str | Path], suffix: str) -> list[Path]:
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files.extend(sorted(entry.rglob(f"*{suffix}")))
        elif entry.suffix == suffix:
            files.append(entry)
        elif not entry.exists():
            raise MeasurementError(f"stack usage file or folder {str(entry)!r} does not exist")
    return files


def _frames_from_su(files: list[Path]) -> dict[str, tuple[int, str]]:
    frames = {}
    for file in files:
        for number, line in enumerate(file.read_text().splitlines(), 1):
            if not line.strip():
                continue
            match = _SU_LINE.match(line)
            if not match:
                raise MeasurementError(
                    f"{file}:{number}: not a -fstack-usage line: {line!r}")
            name = match["name"]
            frames[name] = max(frames.get(name, (0, "")), (int(match["bytes"]), match["kind"]))
    return frames


def _function_name(title: str) -> str:
    """GCC titles a static function "path/to/file.c:name" (to tell same-named statics
    apart); keep the file name, drop the build folder."""
    source, colon, name = title.rpartition(":")
    return f"{Path(source).name}:{name}" if colon else title


def estimate_stack(paths: Iterable[str | Path], entry: str = "main") -> StackEstimate:
    """Worst-case stack bytes from GCC ``.ci`` call graphs (preferred) or ``.su`` files."""
    paths = list(paths)
    ci_files = _collect(paths, ".ci")
    if not ci_files:
        su_files = _collect(paths, ".su")
        if not su_files:
            raise MeasurementError(
                f"no .ci or .su files in {', '.join(map(str, paths))}; compile with "
                "-fstack-usage -fcallgraph-info=su")
        frames = _frames_from_su(su_files)
        if not frames:
            raise MeasurementError("the .su files list no functions")
        name, (size, kind) = max(frames.items(), key=lambda item: item[1][0])
        return StackEstimate(size, "largest-frame", False, (name,),
                             ("no call graph (.ci files): the largest single frame is a lower bound; "
                              "compile with -fcallgraph-info=su for a path estimate",))

    frames: dict[str, tuple[int, str]] = {}
    calls: dict[str, set[str]] = {}
    for file in ci_files:
        text = file.read_text()
        for match in _CI_NODE.finditer(text):
            frame = _CI_FRAME.search(match["label"])
            if frame:
                frames[_function_name(match["title"])] = (int(frame["bytes"]), frame["kind"])
        for match in _CI_EDGE.finditer(text):
            calls.setdefault(_function_name(match["src"]), set()).add(_function_name(match["dst"]))
    if entry not in frames:
        raise MeasurementError(
            f"entry function {entry!r} is not in the call graph ({len(frames)} functions); "
            "name the firmware's entry function or compile its file with -fcallgraph-info=su")

    caveats: set[str] = set()
    best: dict[str, tuple[int, tuple[str, ...]]] = {}

    def deepest(function: str, on_path: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
        """Largest stack from ``function`` down, and the path that reaches it."""
        if function in best:
            return best[function]
        if function == _INDIRECT_CALL:
            caveats.add(f"call through a function pointer in {on_path[-1]} (not followed)")
            return 0, ()
        if function not in frames:
            caveats.add(f"{function} has no stack information (compiled without -fstack-usage)")
            return 0, (function,)
        size, kind = frames[function]
        if kind != "static":
            caveats.add(f"{function} has a {kind} frame (alloca or variable-length array)")
        deepest_callee: tuple[int, tuple[str, ...]] = (0, ())
        for callee in sorted(calls.get(function, ())):
            if callee in on_path or callee == function:
                caveats.add(f"recursion: {function} -> {callee}")
                continue
            candidate = deepest(callee, on_path + (function,))
            if candidate[0] > deepest_callee[0]:
                deepest_callee = candidate
        result = (size + deepest_callee[0], (function,) + deepest_callee[1])
        # Memoising is only sound when no recursion cut the search below this function.
        if not any(c.startswith("recursion") for c in caveats):
            best[function] = result
        return result

    stack_bytes, worst_path = deepest(entry, ())
    return StackEstimate(stack_bytes, "call-graph", not caveats, worst_path, tuple(sorted(caveats)))

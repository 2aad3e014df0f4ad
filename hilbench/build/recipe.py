"""Target build recipes: firmware_targets/<target>/target.yaml, read into plain validated data.

A recipe says how to turn the DUT core, a HAL and a compiled model into firmware for one target:
which compiler, CPU and C flags, linker script, startup files and HAL sources. The same format
serves the host target (native gcc) and cross-compiled Cortex-M targets (arm-none-eabi-gcc).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hilbench.errors import ConfigError
from hilbench.paths import firmware_root
from hilbench.record.schema import LATENCY_SOURCES, MODES

RECIPE_FILE = "target.yaml"

# The portable DUT core, relative to firmware_targets/. A target with its own main() lists
# core_sources without common/hb_main.c.
DEFAULT_CORE_SOURCES = ("common/hb_dut.c", "common/hb_crc32.c", "common/hb_main.c")
# Headers every build sees: the HAL and DUT core interfaces, and the compiled-model interface.
CORE_INCLUDE_DIRS = ("common", "runtime")

_LIST_KEYS = ("cpu_flags", "cflags", "ldflags", "libs", "startup", "sources", "include_dirs", "core_sources")
_KNOWN_KEYS = set(_LIST_KEYS) | {
    "name", "description", "mode", "latency_source", "compiler", "compiler_install_hint",
    "linker_script", "defines", "output", "objcopy",
}


@dataclass(frozen=True)
class TargetRecipe:
    """How to build firmware for one target. Paths are absolute once loaded."""

    name: str
    directory: Path
    compiler: str
    mode: str
    latency_source: str
    description: str = ""
    compiler_install_hint: str = ""
    cpu_flags: tuple[str, ...] = ()
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    libs: tuple[str, ...] = ()
    linker_script: Path | None = None
    startup: tuple[Path, ...] = ()
    sources: tuple[Path, ...] = ()
    include_dirs: tuple[Path, ...] = ()
    core_sources: tuple[Path, ...] = ()
    core_include_dirs: tuple[Path, ...] = ()
    defines: dict[str, str] = field(default_factory=dict)
    output: str = "hb_firmware.elf"
    objcopy: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def recipe_path(self) -> Path:
        return self.directory / RECIPE_FILE


def known_targets(root: Path | None = None) -> list[str]:
    """Names of the folders under firmware_targets/ that have a build recipe."""
    root = root or firmware_root()
    return sorted(p.parent.name for p in root.glob(f"*/{RECIPE_FILE}"))


def load_recipe(target_name: str, root: Path | None = None) -> TargetRecipe:
    """Reads and validates firmware_targets/<target_name>/target.yaml."""
    root = root or firmware_root()
    directory = root / target_name
    path = directory / RECIPE_FILE
    if not path.is_file():
        known = ", ".join(known_targets(root)) or "none"
        raise ConfigError(
            f"target '{target_name}' has no build recipe {path} (known targets: {known}); "
            f"add firmware_targets/{target_name}/{RECIPE_FILE} or pick a known target"
        )
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"build recipe {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"build recipe {path} must be a mapping of keys to values")

    def fail(message: str) -> ConfigError:
        return ConfigError(f"build recipe {path}: {message}")

    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KNOWN_KEYS))})")
    if not raw.get("compiler"):
        raise fail("'compiler' is required (e.g. gcc or arm-none-eabi-gcc)")
    mode = raw.get("mode", "")
    if mode not in MODES:
        raise fail(f"'mode' is {mode!r}; use one of {', '.join(MODES)}")
    latency_source = raw.get("latency_source", "")
    if latency_source not in LATENCY_SOURCES:
        raise fail(f"'latency_source' is {latency_source!r}; use one of {', '.join(LATENCY_SOURCES)}")
    for key in _LIST_KEYS:
        value = raw.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise fail(f"'{key}' must be a list of strings, got {value!r}")
    defines = raw.get("defines") or {}
    if not isinstance(defines, dict):
        raise fail(f"'defines' must be a mapping NAME: value, got {defines!r}")

    def local(names: list[str] | None, base: Path = directory) -> tuple[Path, ...]:
        paths = tuple((base / name).resolve() for name in names or ())
        for p in paths:
            if not p.exists():
                raise fail(f"file or folder {p} does not exist")
        return paths

    linker_script = raw.get("linker_script")
    core = raw.get("core_sources")
    return TargetRecipe(
        name=raw.get("name", target_name),
        directory=directory.resolve(),
        compiler=str(raw["compiler"]),
        mode=mode,
        latency_source=latency_source,
        description=str(raw.get("description", "")),
        compiler_install_hint=str(raw.get("compiler_install_hint", "")),
        cpu_flags=tuple(raw.get("cpu_flags") or ()),
        cflags=tuple(raw.get("cflags") or ()),
        ldflags=tuple(raw.get("ldflags") or ()),
        libs=tuple(raw.get("libs") or ()),
        linker_script=local([linker_script])[0] if linker_script else None,
        startup=local(raw.get("startup")),
        sources=local(raw.get("sources")),
        include_dirs=local(raw.get("include_dirs")),
        core_sources=local(list(DEFAULT_CORE_SOURCES) if core is None else core, root),
        core_include_dirs=local(list(CORE_INCLUDE_DIRS), root),
        defines={str(k): "" if v is None else str(v) for k, v in defines.items()},
        output=str(raw.get("output") or "hb_firmware.elf"),
        objcopy=raw.get("objcopy") or None,
        raw=raw,
    )

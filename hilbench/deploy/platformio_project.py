"""A PlatformIO project for a board that hilbench cannot build with the local toolchain.

Some boards are reached through a vendor core rather than bare metal: the Nano 33 BLE's serial
line is the nRF52840's native USB, which the Arduino Mbed core drives. For those, hilbench
writes a self-contained PlatformIO project (sources copied in, so that it can be carried to a
lab machine) and PlatformIO builds and uploads it in one ``pio run -t upload``
(:mod:`hilbench.deploy.flash`). The project's template lives in
``firmware_targets/platformio/<env>/``: ``platformio.ini.in`` and the sketch that implements
``hb_hal.h``.

The project is cached under ``<cache>/platformio/<env>/``, keyed by the content of every file
in it, like the local builder's firmware.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from hilbench.build.builder import OPT_LEVELS, ModelSources
from hilbench.build.recipe import DEFAULT_CORE_SOURCES
from hilbench.errors import BuildError, ConfigError
from hilbench.paths import cache_root, firmware_root

TEMPLATE_FILE = "platformio.ini.in"
PROJECT_FILE = "platformio.ini"
TEMPLATES_FOLDER = "platformio"
# The Arduino core has its own main(): the DUT core goes in without common/hb_main.c.
_CORE_SOURCES = tuple(name for name in DEFAULT_CORE_SOURCES if not name.endswith("hb_main.c"))
# Headers the DUT core and the sketch include (the sketch shares the DWT wrap counting).
_SHARED_HEADERS = ("common/hb_dut.h", "common/hb_hal.h", "common/hb_crc32.h",
                 "dwt_common/hb_cycle_extend.h")


@dataclass(frozen=True)
class PlatformioProject:
    """A generated PlatformIO project: what ``pio run -e ENV -t upload`` builds and flashes.

    It stands where a :class:`hilbench.build.Firmware` stands for locally built boards, with
    the fields the result provenance reads (target, firmware_sha256, compile_command).
    """

    directory: Path
    env: str
    model_name: str
    model_sha256: str
    firmware_sha256: str
    """sha256 over the project's files (sources and platformio.ini), not over a binary:
    PlatformIO makes the binary on upload."""
    opt_level: str
    defines: tuple[str, ...]
    mode: str = "hardware"
    latency_source: str = "device-timer"

    @property
    def target(self) -> str:
        """The name results show for what was built: ``platformio:<env>``."""
        return f"platformio:{self.env}"

    @property
    def path(self) -> Path:
        """What the flasher takes: the project folder."""
        return self.directory

    @property
    def compile_command(self) -> tuple[str, ...]:
        """The command that builds this project (the flasher adds ``-t upload``)."""
        return ("pio", "run", "-d", str(self.directory), "-e", self.env)

    @property
    def elf_path(self) -> Path:
        """Where PlatformIO puts the ELF once it has built the project."""
        return self.directory / ".pio" / "build" / self.env / "firmware.elf"


def known_templates(root: Path | None = None) -> list[str]:
    """The PlatformIO environments that have a project template in firmware_targets/platformio/."""
    root = (root or firmware_root()) / TEMPLATES_FOLDER
    return sorted(p.parent.name for p in root.glob(f"*/{TEMPLATE_FILE}"))


def template_dir(env: str, root: Path | None = None) -> Path:
    """The template folder for PlatformIO environment ``env``; ConfigError when there is none."""
    if not env:
        raise ConfigError("the board uploads with PlatformIO but has no build.platformio_env "
                          f"(known: {', '.join(known_templates(root)) or 'none'}); set it in the "
                          "catalog or hilbench.yaml")
    folder = (root or firmware_root()) / TEMPLATES_FOLDER / env
    if not (folder / TEMPLATE_FILE).is_file():
        raise ConfigError(
            f"PlatformIO environment '{env}' has no project template {folder / TEMPLATE_FILE} "
            f"(known: {', '.join(known_templates(root)) or 'none'}); add one, or give the board "
            "a local firmware target (build.firmware_target)")
    return folder


def _define_flags(defines: Iterable[str]) -> list[str]:
    """platformio.ini build_flags lines for -D arguments; a value with a quote is wrapped in
    single quotes, which is how PlatformIO passes string macros through its shell parsing."""
    lines = []
    for define in defines:
        lines.append(f"    '{define}'" if '"' in define or " " in define else f"    {define}")
    return lines


def _project_defines(env: str, compiled: ModelSources, baud: int,
                     extra_defines: Sequence[str]) -> tuple[str, ...]:
    defines: dict[str, str] = {
        "HB_DUT_TARGET_NAME": f'"platformio:{env}"',
        "HB_UART_BAUD": str(baud),
        **{str(k): str(v) for k, v in (getattr(compiled, "compile_definitions", None) or {}).items()},
    }
    for item in extra_defines:
        name, _, value = str(item).partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise BuildError(f"extra define {item!r}: '{name}' is not a valid C macro name")
        defines[name] = value
    return tuple(f"-D{k}={v}" if v != "" else f"-D{k}" for k, v in defines.items())


def generate_project(env: str, compiled: ModelSources, *, baud: int = 115200,
                     opt_level: str = "O2", extra_defines: Sequence[str] = (),
                     out_root: Path | None = None) -> PlatformioProject:
    """Write (or take from the cache) the PlatformIO project for ``compiled`` on ``env``.

    The project's ``src/`` holds the sketch from the template, the DUT core (without
    hb_main.c), the runtime kernels the model uses and the model's generated sources and
    headers, all in one folder so that no include path depends on this checkout.
    Raises ConfigError when ``env`` has no template, BuildError for a bad define or level.
    """
    opt_level = opt_level.lstrip("-")
    if opt_level not in OPT_LEVELS:
        raise BuildError(f"optimisation level '{opt_level}' is not one of {', '.join(OPT_LEVELS)}")
    template = template_dir(env)
    root = firmware_root()
    sources = [*sorted(p for p in template.iterdir() if p.suffix in (".c", ".cpp", ".h")),
               *(root / name for name in (*_CORE_SOURCES, *_SHARED_HEADERS)),
               *(Path(p) for p in compiled.runtime_sources),
               *sorted({h for d in compiled.include_dirs for h in Path(d).glob("*.h")}),
               *(Path(p) for p in compiled.source_files)]
    files: dict[str, bytes] = {}
    for source in sources:
        if not source.is_file():
            raise BuildError(f"source file {source} for PlatformIO environment '{env}' does not exist")
        previous = files.get(source.name)
        if previous is not None and previous != source.read_bytes():
            raise BuildError(f"two different files are both named {source.name} "
                             f"(one is {source}); the PlatformIO project keeps one src/ folder")
        files[source.name] = source.read_bytes()
    defines = _project_defines(env, compiled, baud, extra_defines)
    ini = string.Template((template / TEMPLATE_FILE).read_text()).substitute(
        env=env, model=compiled.model_name, baud=baud,
        build_flags="\n".join(_define_flags((f"-{opt_level}", *defines))))

    digest = hashlib.sha256(ini.encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    project_sha256 = digest.hexdigest()
    base = Path(out_root) if out_root is not None else cache_root() / "platformio"
    safe_model = re.sub(r"[^A-Za-z0-9_.-]", "_", compiled.model_name) or "model"
    final_dir = base / env / f"{safe_model}-{project_sha256[:20]}"
    project = PlatformioProject(final_dir, env, compiled.model_name, compiled.model_sha256,
                                project_sha256, opt_level, defines)
    if (final_dir / PROJECT_FILE).is_file():
        return project

    (base / env).mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".{safe_model}-", dir=base / env))
    try:
        (work_dir / "src").mkdir()
        for name, content in files.items():
            (work_dir / "src" / name).write_bytes(content)
        (work_dir / PROJECT_FILE).write_text(ini)
        try:
            os.rename(work_dir, final_dir)
        except OSError:
            shutil.rmtree(work_dir, ignore_errors=True)  # another process wrote the same project
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    return project

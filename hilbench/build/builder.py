"""The build stage: DUT core + target HAL + compiled model -> firmware, with a content-keyed cache.

The cache key covers everything that can change the firmware: the model and runtime hashes, the
content of every source file and of every header in every include folder, the recipe, the
compiler's version, the optimisation level and the defines. A second build with the same inputs
returns the cached firmware without running the compiler.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Protocol, Sequence

from hilbench.build.recipe import TargetRecipe, load_recipe
from hilbench.errors import BuildError
from hilbench.paths import cache_root
from hilbench.record.provenance import file_sha256

OPT_LEVELS = ("O0", "O1", "O2", "O3", "Os", "Oz", "Og")
MANIFEST = "build.json"
# Bumped when the build procedure changes in a way the key does not see.
_BUILDER_VERSION = 2
# GCC writes each function's stack frame (.su) and the call graph with frame sizes (.ci) next to
# the ELF, named <elf>-<source>.su/.ci; the footprint's stack estimate reads them. They change
# nothing in the generated code.
STACK_USAGE_FLAGS = ("-fstack-usage", "-fcallgraph-info=su")


class ModelSources(Protocol):
    """What the builder needs from a compiled model (hilbench.compile's CompiledModel)."""

    model_name: str
    model_sha256: str
    source_files: Sequence[os.PathLike | str]
    include_dirs: Sequence[os.PathLike | str]
    runtime_sources: Sequence[os.PathLike | str]
    runtime_sha256: str
    # Optional: compile_definitions: dict[str, str], -D macros the model's sources need.


@dataclass(frozen=True)
class Firmware:
    """A built firmware image and where it came from."""

    path: Path  # what deploy runs or flashes: the .bin when the recipe makes one, else the ELF
    target: str
    firmware_sha256: str
    elf_path: Path
    bin_path: Path | None
    model_name: str
    model_sha256: str
    runtime_sha256: str
    opt_level: str
    defines: tuple[str, ...]
    compile_command: tuple[str, ...]
    cache_key: str
    from_cache: bool
    recipe: TargetRecipe

    @property
    def mode(self) -> str:
        """hardware | emulated | host, from the target recipe."""
        return self.recipe.mode

    @property
    def latency_source(self) -> str:
        """device-timer | icount | host-clock, from the target recipe."""
        return self.recipe.latency_source

    @property
    def stack_usage_files(self) -> list[Path]:
        """GCC's per-function stack usage (.su) and call graph (.ci) files of this build."""
        folder = self.elf_path.parent
        return sorted([*folder.glob(f"{self.elf_path.name}-*.su"), *folder.glob(f"{self.elf_path.name}-*.ci")])


def _normalise_defines(target: str, recipe_defines: dict[str, str], model_defines: dict[str, str],
                       extra: Iterable[str]) -> tuple[str, ...]:
    """-D arguments: the recipe's, the model's (e.g. its kernel variant), the target name for the
    'name' reply, then the extra ones, later ones overriding earlier ones."""
    defines = {**recipe_defines, **{str(k): str(v) for k, v in model_defines.items()}}
    defines["HB_DUT_TARGET_NAME"] = f'"{target}"'
    for item in extra:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            name, value = str(item[0]), str(item[1])
        elif isinstance(item, str):
            name, _, value = item.partition("=")
        else:
            raise BuildError(f"extra define {item!r} must be 'NAME', 'NAME=VALUE' or (NAME, VALUE)")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise BuildError(f"extra define {item!r}: '{name}' is not a valid C macro name")
        defines[name] = value
    return tuple(f"-D{k}={v}" if v != "" else f"-D{k}" for k, v in defines.items())


def _compiler_version(compiler_path: str) -> str:
    try:
        result = subprocess.run([compiler_path, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        raise BuildError(f"cannot run compiler {compiler_path}: {exc}") from exc
    return result.stdout.splitlines()[0] if result.stdout else ""


def _headers(include_dirs: Iterable[Path]) -> list[Path]:
    return sorted({h for d in include_dirs for h in Path(d).glob("*.h")})


def _compile_command(compiler: str, recipe: TargetRecipe, opt_level: str, defines: Sequence[str],
                     include_dirs: Sequence[Path], sources: Sequence[Path], elf: Path) -> list[str]:
    command = [compiler, *recipe.cpu_flags, *recipe.cflags, *STACK_USAGE_FLAGS, f"-{opt_level}", *defines]
    command += [f"-I{d}" for d in include_dirs]
    command += [str(s) for s in sources]
    command += ["-o", str(elf), *recipe.ldflags]
    if recipe.linker_script:
        command.append(f"-T{recipe.linker_script}")
    command += list(recipe.libs)
    return command


def build_firmware(
    target_name: str,
    compiled_model: ModelSources,
    *,
    opt_level: str = "O2",
    extra_defines: Iterable[str] = (),
    cache_dir: Path | None = None,
) -> Firmware:
    """Builds (or takes from the cache) the firmware for one target and one compiled model.

    target_name names a folder of firmware_targets/ with a target.yaml recipe. extra_defines are
    'NAME' or 'NAME=VALUE' strings (e.g. 'HB_DUT_ENERGY_MODE=1'). cache_dir defaults to
    <hilbench.paths.cache_root()>/firmware. Raises ConfigError for an unknown or malformed
    target and BuildError when the compiler is missing or the build fails.
    """
    opt_level = opt_level.lstrip("-")
    if opt_level not in OPT_LEVELS:
        raise BuildError(f"optimisation level '{opt_level}' is not one of {', '.join(OPT_LEVELS)}")
    recipe = load_recipe(target_name)
    compiler = shutil.which(recipe.compiler)
    if compiler is None:
        hint = f" ({recipe.compiler_install_hint})" if recipe.compiler_install_hint else ""
        raise BuildError(
            f"compiler '{recipe.compiler}' for target '{target_name}' is not on PATH; "
            f"install it{hint} or set 'compiler' in {recipe.recipe_path}"
        )

    model_sources = [Path(p).resolve() for p in compiled_model.source_files]
    runtime_sources = [Path(p).resolve() for p in compiled_model.runtime_sources]
    sources = [*recipe.core_sources, *recipe.startup, *recipe.sources, *runtime_sources, *model_sources]
    # dict.fromkeys: drop repeats (the model also names firmware_targets/runtime), keep the order.
    include_dirs = list(dict.fromkeys([
        *recipe.core_include_dirs, recipe.directory, *recipe.include_dirs,
        *(Path(p).resolve() for p in compiled_model.include_dirs),
    ]))
    for path in sources:
        if not path.is_file():
            raise BuildError(f"source file {path} for target '{target_name}' does not exist")
    # compile_definitions is optional: models compiled without special kernels need none.
    defines = _normalise_defines(
        target_name, recipe.defines, getattr(compiled_model, "compile_definitions", None) or {}, extra_defines
    )

    key_material = {
        "builder": _BUILDER_VERSION,
        "target": target_name,
        "recipe": recipe.raw,
        "compiler": _compiler_version(compiler),
        "opt_level": opt_level,
        "defines": defines,
        "model_sha256": compiled_model.model_sha256,
        "runtime_sha256": compiled_model.runtime_sha256,
        "files": [
            [str(p), file_sha256(p)]
            for p in [*sources, *_headers(include_dirs), *([recipe.linker_script] if recipe.linker_script else [])]
        ],
    }
    cache_key = hashlib.sha256(json.dumps(key_material, sort_keys=True, default=str).encode()).hexdigest()
    base = Path(cache_dir) if cache_dir is not None else cache_root() / "firmware"
    safe_model = re.sub(r"[^A-Za-z0-9_.-]", "_", compiled_model.model_name) or "model"
    final_dir = base / target_name / f"{safe_model}-{cache_key[:20]}"

    cached = _load_cached(final_dir, recipe, cache_key)
    if cached is not None:
        return cached
    if final_dir.exists():
        shutil.rmtree(final_dir, ignore_errors=True)  # a damaged entry: replace it

    base.joinpath(target_name).mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".{safe_model}-", dir=base / target_name))
    try:
        elf = work_dir / recipe.output
        command = _compile_command(compiler, recipe, opt_level, defines, include_dirs, sources, elf)
        _run_tool(command, target_name, "compile")
        if recipe.objcopy:
            objcopy = shutil.which(recipe.objcopy)
            if objcopy is None:
                raise BuildError(f"objcopy '{recipe.objcopy}' for target '{target_name}' is not on PATH")
            _run_tool([objcopy, "-O", "binary", str(elf), str(elf.with_suffix(".bin"))], target_name, "objcopy")
        manifest = {
            "cache_key": cache_key,
            "target": target_name,
            "model_name": compiled_model.model_name,
            "model_sha256": compiled_model.model_sha256,
            "runtime_sha256": compiled_model.runtime_sha256,
            "opt_level": opt_level,
            "defines": list(defines),
            # Recorded as if built in place, so that it can be re-run by hand.
            "compile_command": [arg.replace(str(work_dir), str(final_dir)) for arg in command],
            "elf": elf.name,
            "bin": elf.with_suffix(".bin").name if recipe.objcopy else None,
        }
        manifest["firmware_sha256"] = file_sha256(work_dir / (manifest["bin"] or manifest["elf"]))
        (work_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
        try:
            os.rename(work_dir, final_dir)
        except OSError:
            # Another process finished the same build first: its result is as good as ours.
            shutil.rmtree(work_dir, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    firmware = _load_cached(final_dir, recipe, cache_key)
    if firmware is None:
        raise BuildError(f"firmware build for target '{target_name}' left no usable result in {final_dir}")
    return replace(firmware, from_cache=False)


def _run_tool(command: list[str], target_name: str, step: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except OSError as exc:
        raise BuildError(f"{step} for target '{target_name}' could not start {command[0]}: {exc}") from exc
    if result.returncode != 0:
        output = (result.stderr + result.stdout).strip()
        raise BuildError(
            f"{step} for target '{target_name}' failed (exit {result.returncode}).\n"
            f"command: {' '.join(command)}\n{output}"
        )


def _load_cached(directory: Path, recipe: TargetRecipe, cache_key: str) -> Firmware | None:
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return None
    elf = directory / manifest["elf"]
    binary = directory / manifest["bin"] if manifest.get("bin") else None
    image = binary or elf
    if manifest.get("cache_key") != cache_key or not image.is_file() or not elf.is_file():
        return None
    if file_sha256(image) != manifest["firmware_sha256"]:
        return None  # damaged cache entry: rebuild
    return Firmware(
        path=image,
        target=manifest["target"],
        firmware_sha256=manifest["firmware_sha256"],
        elf_path=elf,
        bin_path=binary,
        model_name=manifest["model_name"],
        model_sha256=manifest["model_sha256"],
        runtime_sha256=manifest["runtime_sha256"],
        opt_level=manifest["opt_level"],
        defines=tuple(manifest["defines"]),
        compile_command=tuple(manifest["compile_command"]),
        cache_key=cache_key,
        from_cache=True,
        recipe=recipe,
    )


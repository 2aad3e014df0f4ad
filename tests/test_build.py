"""The builder: recipes, the firmware cache, and the errors a user sees."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
import yaml

from dut_fixtures.stub_model import STUB_DIR, stub_compiled_model
from hilbench.build import build_firmware, known_targets, load_recipe
from hilbench.errors import BuildError, ConfigError
from hilbench.paths import firmware_root


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def model_copy(tmp_path):
    """A private copy of the stub model's sources, free to edit."""
    folder = tmp_path / "model"
    shutil.copytree(STUB_DIR, folder)
    return folder


def test_host_recipe_is_loaded():
    recipe = load_recipe("host")
    assert recipe.compiler == "gcc" and recipe.mode == "host" and recipe.latency_source == "host-clock"
    assert [p.name for p in recipe.core_sources] == ["hb_dut.c", "hb_crc32.c", "hb_main.c"]
    assert "host" in known_targets()


def test_build_then_cache_hit(cache):
    model = stub_compiled_model()
    first = build_firmware("host", model, cache_dir=cache)
    mtime = first.path.stat().st_mtime_ns
    second = build_firmware("host", model, cache_dir=cache)
    assert not first.from_cache and second.from_cache
    assert second.path == first.path and second.firmware_sha256 == first.firmware_sha256
    assert second.path.stat().st_mtime_ns == mtime  # not rebuilt
    assert first.elf_path == first.path and first.bin_path is None
    assert (first.target, first.model_name, first.opt_level) == ("host", "stub40", "O2")
    assert "-O2" in first.compile_command and '-DHB_DUT_TARGET_NAME="host"' in first.compile_command
    assert len(list((cache / "host").iterdir())) == 1  # no temporary folder left behind


def test_key_covers_flags_defines_and_sources(cache, model_copy):
    model = stub_compiled_model(model_copy)
    base = build_firmware("host", model, cache_dir=cache)
    assert build_firmware("host", model, opt_level="Os", cache_dir=cache).cache_key != base.cache_key
    energy = build_firmware("host", model, extra_defines=["HB_DUT_ENERGY_MODE=1"], cache_dir=cache)
    assert not energy.from_cache and energy.cache_key != base.cache_key
    assert "-DHB_DUT_ENERGY_MODE=1" in energy.compile_command
    # The model's own compile definitions are passed on and are part of the key.
    defined = build_firmware("host", dataclasses.replace(model, compile_definitions={"HB_STUB_FLAVOUR": "2"}), cache_dir=cache)
    assert "-DHB_STUB_FLAVOUR=2" in defined.compile_command and defined.cache_key != base.cache_key
    # Editing a header of the model changes the key even though the .c files are the same.
    config = model_copy / "hb_model_config.h"
    config.write_text(config.read_text() + "\n/* edited */\n")
    edited = build_firmware("host", stub_compiled_model(model_copy), cache_dir=cache)
    assert not edited.from_cache and edited.cache_key != base.cache_key


def test_damaged_cache_entry_is_rebuilt(cache):
    model = stub_compiled_model()
    first = build_firmware("host", model, cache_dir=cache)
    first.path.write_bytes(b"not firmware")
    again = build_firmware("host", model, cache_dir=cache)
    assert not again.from_cache and again.path.read_bytes()[:4] == b"\x7fELF"


def test_compile_error_shows_command_and_compiler_output(cache, model_copy):
    (model_copy / "hb_model.c").write_text("int hb_model_invoke(unsigned char *arena) { return oops; }\n")
    with pytest.raises(BuildError) as error:
        build_firmware("host", stub_compiled_model(model_copy), cache_dir=cache)
    message = str(error.value)
    assert "compile for target 'host' failed" in message
    assert "command: " in message and "gcc" in message and "hb_model.c" in message
    assert re.search(r"oops\W+ undeclared", message)
    assert not any((cache / "host").glob("*/build.json"))  # nothing cached from a failed build


@pytest.fixture
def custom_root(tmp_path, monkeypatch):
    """A firmware_targets/ copy where tests can add targets."""
    root = tmp_path / "firmware_targets"
    for name in ("common", "runtime", "host"):
        shutil.copytree(firmware_root() / name, root / name)
    monkeypatch.setenv("HILBENCH_FIRMWARE", str(root))
    return root


def add_target(root: Path, name: str, **overrides) -> None:
    recipe = yaml.safe_load((root / "host" / "target.yaml").read_text())
    recipe.update(name=name, **overrides)
    (root / name).mkdir()
    shutil.copy(root / "host" / "hb_hal_host.c", root / name)
    (root / name / "target.yaml").write_text(yaml.safe_dump(recipe))


def test_missing_compiler_is_named_with_a_hint(custom_root, cache):
    add_target(custom_root, "nocc", compiler="no-such-cc-9", compiler_install_hint="Debian: apt install no-such-cc")
    with pytest.raises(BuildError, match=r"compiler 'no-such-cc-9' for target 'nocc' is not on PATH; install it \(Debian: apt install no-such-cc\)"):
        build_firmware("nocc", stub_compiled_model(), cache_dir=cache)


def test_unknown_target_lists_known_ones():
    with pytest.raises(ConfigError, match=r"target 'nano34' has no build recipe .* \(known targets: .*host"):
        build_firmware("nano34", stub_compiled_model())


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({"mode": "cloud"}, "'mode' is 'cloud'"),
        ({"latency_source": "stopwatch"}, "'latency_source' is 'stopwatch'"),
        ({"cflags": "-O2"}, "'cflags' must be a list of strings"),
        ({"sources": ["missing_hal.c"]}, "missing_hal.c does not exist"),
        ({"linkerscript": "x.ld"}, "unknown key(s) linkerscript"),
    ],
)
def test_malformed_recipe_is_explained(custom_root, overrides, complaint):
    add_target(custom_root, "broken", **overrides)
    with pytest.raises(ConfigError) as error:
        load_recipe("broken")
    assert complaint in str(error.value) and "broken/target.yaml" in str(error.value)


def test_recipe_with_objcopy_makes_a_binary(custom_root, cache):
    add_target(custom_root, "withbin", objcopy="objcopy", output="fw.elf")
    firmware = build_firmware("withbin", stub_compiled_model(), cache_dir=cache)
    assert firmware.bin_path is not None and firmware.path == firmware.bin_path
    assert firmware.bin_path.stat().st_size > 0 and firmware.elf_path.name == "fw.elf"


def test_bad_opt_level_and_define(cache):
    with pytest.raises(BuildError, match="optimisation level 'O9'"):
        build_firmware("host", stub_compiled_model(), opt_level="O9", cache_dir=cache)
    with pytest.raises(BuildError, match="not a valid C macro name"):
        build_firmware("host", stub_compiled_model(), extra_defines=["1BAD=2"], cache_dir=cache)

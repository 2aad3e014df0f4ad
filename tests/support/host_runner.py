"""Run a compiled model on the host: build batch_main.c with `cc -O2`, stream inputs through it.

Build products are cached under the hilbench cache folder, keyed by the hashes of the
generated sources, the runtime sources and the compiler flags, so that a rerun is free.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from hilbench.compile import CompiledModel, runtime_dir
from hilbench.errors import BuildError, DeployError
from hilbench.paths import cache_root

HOST_CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration")


def _compiler() -> str:
    for name in (os.environ.get("CC", ""), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    raise BuildError("no host C compiler found (tried $CC, cc, gcc, clang); install gcc")


def build_host_runner(compiled: CompiledModel, extra_flags: tuple[str, ...] = ()) -> Path:
    """Build (or reuse) the batch runner executable for `compiled`; returns its path."""
    cc = _compiler()
    main_c = runtime_dir() / "tools" / "batch_main.c"
    flags = list(HOST_CFLAGS) + list(extra_flags) + [
        f"-D{k}={v}" for k, v in sorted(compiled.compile_definitions.items())]
    digest = hashlib.sha256()
    for path in sorted(compiled.source_files) + [compiled.out_dir / "hb_model_config.h",
                                                 compiled.out_dir / "hb_model_data.h", main_c]:
        digest.update(Path(path).read_bytes())
    digest.update(compiled.runtime_sha256.encode())
    digest.update(" ".join([cc] + flags).encode())
    exe = cache_root() / "host-runner" / f"{compiled.model_name}-{digest.hexdigest()[:20]}"
    if exe.exists():
        return exe
    exe.parent.mkdir(parents=True, exist_ok=True)
    includes = [f"-I{d}" for d in compiled.include_dirs]
    with tempfile.TemporaryDirectory(dir=exe.parent) as tmp:
        tmp_exe = Path(tmp) / exe.name
        cmd = [cc, *flags, *includes, "-o", str(tmp_exe), str(main_c),
               *map(str, compiled.source_files), *map(str, compiled.runtime_sources), "-lm"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(f"host build of {compiled.model_name} failed:\n{' '.join(cmd)}\n"
                             f"{result.stderr[-4000:]}")
        os.replace(tmp_exe, exe)
    return exe


def run_model_on_host(compiled: CompiledModel, inputs: np.ndarray | list[np.ndarray], *,
                      extra_cflags: tuple[str, ...] = ()) -> np.ndarray:
    """Run every row of `inputs` through the compiled model on the host.

    `inputs` is [N, *input_shape] in the model's input dtype, or one such array per input for
    models with several inputs. Returns the outputs as [N, *output_shape] (one-output models).
    `extra_cflags` are added to the host build (e.g. -DHB_EMULATE_DSP).
    """
    arrays = [np.asarray(a) for a in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    if len(arrays) != len(compiled.inputs):
        raise ValueError(f"{compiled.model_name} has {len(compiled.inputs)} inputs, "
                         f"got {len(arrays)} arrays")
    if len(compiled.outputs) != 1:
        raise ValueError("run_model_on_host handles models with one output")
    rows = arrays[0].shape[0]
    for array, spec in zip(arrays, compiled.inputs):
        if array.dtype != np.dtype(spec.dtype) or tuple(array.shape[1:]) != spec.shape \
                or array.shape[0] != rows:
            raise ValueError(f"input '{spec.name}' must be [{rows}, "
                             f"{', '.join(map(str, spec.shape))}] {spec.dtype}, got "
                             f"{list(array.shape)} {array.dtype}")
    # One inference's bytes are all inputs in order, so interleave the rows.
    stream = b"".join(np.ascontiguousarray(array[row]).tobytes()
                      for row in range(rows) for array in arrays)
    exe = build_host_runner(compiled, extra_cflags)
    result = subprocess.run([str(exe)], input=stream, capture_output=True)
    if result.returncode != 0:
        raise DeployError(f"host runner for {compiled.model_name} exited with "
                          f"{result.returncode}: {result.stderr.decode(errors='replace')}")
    out_spec = compiled.outputs[0]
    out = np.frombuffer(result.stdout, dtype=np.dtype(out_spec.dtype))
    return out.reshape((rows,) + out_spec.shape)

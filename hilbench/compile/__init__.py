"""Ahead-of-time compiler: .tflite -> C sources for the hilbench int8 runtime.

    compiled = compile_model("model.tflite", "build/model_c")

reads the flatbuffer (never TensorFlow), lowers each operator to one call of an int8 kernel in
firmware_targets/runtime/ with all quantization parameters precomputed as TFLite Micro does,
plans one arena from tensor lifetimes and writes hb_model_config.h, hb_model.c and
hb_model_data.c. Outputs are bit-exact with the tflite-micro interpreter.
"""

from hilbench.compile.compiler import (CompiledModel, TensorSpec, compile_model, runtime_dir)
from hilbench.compile.lowering import SUPPORTED_OPS

__all__ = ["CompiledModel", "TensorSpec", "compile_model", "runtime_dir", "SUPPORTED_OPS"]

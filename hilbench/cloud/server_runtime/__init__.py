"""Code that runs inside the MLServer environment (see tflite_mlserver_runtime.py), not in hilbench."""

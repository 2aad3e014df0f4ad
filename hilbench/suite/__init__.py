"""hilbench's reference benchmark suite, shipped in the package: the pytest plugin adds it to
any ``pytest --board=B`` run that names no paths (``--no-reference-suite`` leaves it out)."""

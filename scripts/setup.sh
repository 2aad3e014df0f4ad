#!/usr/bin/env bash
# Installs hilbench and everything it needs on a Debian machine. Safe to run again: what is
# already there is left alone.
#   - Debian packages, only those missing (through sudo when not root): the host C compiler,
#     QEMU (emulated twins), the Arm cross compiler with newlib, espeak-ng (keyword-spotting
#     data), valgrind (host instruction counts), chromium (report test), python3-venv,
#     shellcheck (the workflow lint in the tests checks the run: scripts with it).
#   - Python: a virtual environment, .venv in the checkout (VENV=path for another), holding
#     hilbench (editable) with every extra: Joulescope driver and JLS reader, test tools, and
#     TensorFlow for model training and single-op test models. Use it as .venv/bin/pytest,
#     .venv/bin/hilbench, or after '. .venv/bin/activate'.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

DEBIAN_PACKAGES=(build-essential qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi
                 espeak-ng valgrind chromium shellcheck)
# Debian's Python makes virtual environments only with python3-venv (ensurepip).
"$PYTHON" -c "import ensurepip, venv" 2>/dev/null || DEBIAN_PACKAGES+=(python3-venv)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null; then
        as_root=(sudo)
    else
        echo "setup: not root and no sudo: install these Debian packages first: ${missing[*]}" >&2
        exit 1
    fi
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
"$VENV/bin/python" -m pip install -q -e ".[all,train]"
echo "setup: done: hilbench $("$VENV/bin/python" -c 'import hilbench; print(hilbench.__version__)') in $VENV (run $VENV/bin/pytest, $VENV/bin/hilbench, or '. $VENV/bin/activate' first)"

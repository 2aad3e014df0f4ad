#!/usr/bin/env bash
# Installs everything hilbench needs on a Debian machine, as root. Safe to run again:
# packages that are already there are left alone.
#   - Debian: the host C compiler, QEMU (emulated twins), the Arm cross compiler with newlib,
#     espeak-ng (keyword-spotting data), valgrind (host instruction counts), chromium (report test),
#     shellcheck (the workflow lint checks the run: scripts with it)
#   - Python: hilbench itself (editable, so firmware_targets/ and models_zoo/ are found) with
#     every extra: the tflite-micro reference interpreter, Joulescope driver and JLS reader,
#     ELF reader, test tools, and TensorFlow for model training and single-op test models.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(build-essential qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi
                 espeak-ng valgrind chromium shellcheck)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
# Debian's own Python refuses global installs (PEP 668); this machine is dedicated to the bench.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1
"$PYTHON" -m pip install -q wheel setuptools
"$PYTHON" -m pip install -q --pre -e ".[all,train]"
echo "setup: done ($("$PYTHON" -m pip show hilbench 2>/dev/null | grep ^Version))"

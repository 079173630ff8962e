#!/usr/bin/env bash
# Run edgeqwen on arm64 Linux (Debian bookworm, as Raspberry Pi OS is) under qemu user emulation:
# the README's setup and main command, `edgeqwen probe`, every example on the demo model, and the
# fast part of the test suite on the ONNX path; then llama.cpp (cross-compiled for a Pi 5 on the
# host), the main command on it and its backend tests. A functional check: emulated speed says
# nothing about a Pi's.
#
#   sudo bash tools/arm64/check.sh [ROOTFS]     (default: .cache/arm64/rootfs, reused when there)
#   sudo ONLY=llamacpp bash tools/arm64/check.sh   the llama.cpp steps alone (with a root from a full run)
#   sudo ONLY=onnx bash tools/arm64/check.sh       the steps before them alone (setup without llama.cpp, the ONNX path)
#
# Needs root (debootstrap, chroot, mounts) and network to Debian and PyPI. Installs Debian's
# qemu-user-static, binfmt-support, debootstrap and aarch64 cross compilers on the host if missing.
# Every mount it makes is undone on exit; binfmt_misc is unmounted again if it was not mounted before.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
RFS=$(realpath -m "${1:-$REPO/.cache/arm64/rootfs}")
LOG=$REPO/.cache/arm64/logs
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$LOG"
declare -a RESULTS=()
MOUNTED=()
OUR_BINFMT=0
REUSED=no

# -- bookkeeping -------------------------------------------------------------------------------
slug() { echo "$1" | tr -c 'a-zA-Z0-9\n' '_'; }
step() {  # step NAME COMMAND...: run it, log it, record pass/fail and seconds
  local name=$1; shift
  local start=$SECONDS log="$LOG/$(slug "$name").log"
  echo "[arm64 ${SECONDS}s] $name ..."
  if "$@" >"$log" 2>&1; then
    RESULTS+=("PASS  $(printf '%5ss' $((SECONDS - start)))  $name")
  else
    RESULTS+=("FAIL  $(printf '%5ss' $((SECONDS - start)))  $name   (log: ${log#"$REPO"/})")
    tail -n 15 "$log" | sed 's/^/    | /'
  fi
}

cleanup() {
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTED[i]}" 2>/dev/null; done
  if [ "$OUR_BINFMT" = 1 ]; then umount /proc/sys/fs/binfmt_misc 2>/dev/null; fi
}
trap cleanup EXIT

bind() {  # bind SRC [DST inside the root, default SRC]
  local dst="$RFS${2:-$1}"
  mkdir -p "$dst" && mount --bind "$1" "$dst" && MOUNTED+=("$dst")
}

# -- host: emulation -----------------------------------------------------------------------------
host_tools() {
  command -v debootstrap >/dev/null && [ -e /usr/bin/qemu-aarch64-static ] && return 0
  apt-get install -y qemu-user-static binfmt-support debootstrap || {
    apt-get update && apt-get install -y qemu-user-static binfmt-support debootstrap
  }
}

binfmt() {
  if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && OUR_BINFMT=1
  fi
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
  grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64
}

# -- the arm64 root --------------------------------------------------------------------------------
rootfs() {
  if [ -x "$RFS/usr/bin/python3" ]; then echo "reusing $RFS"; return 0; fi
  mkdir -p "$RFS"
  debootstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates,procps \
    "$SUITE" "$RFS" "$MIRROR"
}

enter() {
  for d in /proc /dev /dev/pts; do bind "$d"; done
  # qemu-user shows the host's /proc/cpuinfo and /sys: give the root a Pi 5's CPU instead (its
  # recorded cpuinfo, and the MIDR_EL1 register file torch's oneDNN reads at start-up, without
  # which it crashes under emulation: "Can't open MIDR_EL1 sysfs entry")
  mount --bind "$REPO/tests/data/snapshots/pi5-8gb/cpuinfo" "$RFS/proc/cpuinfo" && MOUNTED+=("$RFS/proc/cpuinfo")
  mount -t tmpfs sysfs-pi5 "$RFS/sys" && MOUNTED+=("$RFS/sys")
  local cpu="$RFS/sys/devices/system/cpu"
  mkdir -p "$cpu" && for f in possible present online; do echo 0-3 >"$cpu/$f"; done
  for i in 0 1 2 3; do
    mkdir -p "$cpu/cpu$i/regs/identification" "$cpu/cpu$i/cpufreq"
    echo 0x00000000414fd0b1 >"$cpu/cpu$i/regs/identification/midr_el1"  # Cortex-A76 r4p1
    echo 2400000 >"$cpu/cpu$i/cpufreq/cpuinfo_max_freq"
  done
  cp /etc/resolv.conf "$RFS/etc/resolv.conf"
  # the host's CA bundle: pip inside must trust what the host trusts
  cp /etc/ssl/certs/ca-certificates.crt "$RFS/etc/ssl/certs/host-ca.crt"
}

copy_tree() {  # the working tree as git sees it (tracked + untracked, not ignored); a .venv and
  # caches made there by an earlier run are kept (torch alone takes ~15 minutes to install emulated)
  mkdir -p "$RFS/work/edgeqwen"
  find "$RFS/work/edgeqwen" -mindepth 1 -maxdepth 1 ! -name .venv ! -name .cache -exec rm -rf {} +
  REUSED=$([ -d "$RFS/work/edgeqwen/.venv" ] && echo "yes (delete $RFS/work/edgeqwen/.venv for a fresh setup)" || echo no)
  git ls-files -z --cached --others --exclude-standard | tar -C "$REPO" --null -T - -cf - | tar -C "$RFS/work/edgeqwen" -xf -
  # the shared corpora some tests read sit next to the repository
  [ -d "$REPO/../shared/data" ] && bind "$REPO/../shared/data" /work/shared/data
  return 0
}

inside() {  # inside COMMAND: run in the arm64 root, in the copied tree, as a fresh login would
  chroot "$RFS" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/host-ca.crt SSL_CERT_FILE=/etc/ssl/certs/host-ca.crt \
    PIP_DEFAULT_TIMEOUT=180 CI=true /bin/bash -c "cd /work/edgeqwen && $1"
}

# -- llama.cpp for a Pi 5, cross-compiled on the host -----------------------------------------------
# Built under emulation, llama.cpp takes hours. The host's aarch64 cross compiler builds the same
# llama-cpp-python wheel (the version setup.sh pins) in minutes, for what -mcpu=native gives on a Pi
# 5's Cortex-A76: armv8.2-a with dotprod and fp16. setup.sh then finds llama_cpp and skips its build.
PI5_ARCH=armv8.2-a+dotprod+fp16
WHEELS=$REPO/.cache/arm64/wheels
llamacpp_wheel() {
  local version
  version=$(sed -n 's/^LLAMA_CPP_PYTHON=\([0-9.]*\).*/\1/p' tools/setup.sh)
  ls "$WHEELS"/llama_cpp_python-"$version"-*linux_aarch64.whl >/dev/null 2>&1 && return 0
  command -v aarch64-linux-gnu-g++ >/dev/null || apt-get install -y gcc-aarch64-linux-gnu g++-aarch64-linux-gnu
  local py=python3 tmp
  [ -x "$REPO/.venv/bin/python" ] && py=$REPO/.venv/bin/python
  tmp=$(mktemp -d)
  CMAKE_ARGS="-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc \
-DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ -DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH=$PI5_ARCH" \
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "$py" -m pip wheel --no-cache-dir --no-deps --no-binary llama-cpp-python "llama-cpp-python==$version" -w "$tmp/built" &&
    # scikit-build-core tags it with the host's platform: retag it once every library in it is aarch64
    # (pip's cache once handed back the host's own x86 build here: hence --no-cache-dir and this check)
    mkdir "$tmp/libs" && (cd "$tmp/libs" && "$py" -m zipfile -e "$tmp"/built/*.whl .) &&
    local other &&
    other=$(for lib in $(find "$tmp/libs" -name '*.so*' -type f); do
      readelf -h "$lib" | grep -q 'Machine: *AArch64' || echo "$lib"
    done) &&
    { [ -z "$other" ] || { echo "not aarch64 libraries: $other"; false; }; } &&
    "$py" -m pip install -q --target "$tmp/wheel" wheel &&
    PYTHONPATH=$tmp/wheel "$py" -m wheel tags --platform-tag linux_aarch64 "$tmp"/built/*.whl &&
    mkdir -p "$WHEELS" && mv "$tmp"/built/*linux_aarch64.whl "$WHEELS"/
  local rc=$?
  rm -rf "$tmp"
  return $rc
}

# -- the checks -------------------------------------------------------------------------------------
main_command() {  # README, "Set up and run (fresh machine)", command 1, exactly: the root has no C++
  # compiler, so setup tries no llama.cpp build (hours under emulation), says so and takes the ONNX
  # path, as a Pi OS Lite without one would. A .venv reused from a run that installed the llama.cpp
  # wheel would answer on it: out first.
  inside '[ ! -x .venv/bin/python ] || .venv/bin/python -m pip --disable-pip-version-check -q uninstall -y llama-cpp-python
    ! command -v c++ >/dev/null || export EDGEQWEN_NO_LLAMACPP=1  # a root with one: no build of hours
    bash tools/setup.sh && .venv/bin/edgeqwen run "What is the capital of France?"'
}
probe() { inside '.venv/bin/edgeqwen probe'; }
examples() {  # the demo model the main command converted is reused: one emulated conversion is enough
  inside 'EDGEQWEN_NO_LLAMACPP=1 bash tools/setup.sh --dev >/dev/null && mkdir -p .cache/tests/home/models \
    && cp -rn /root/.cache/edgeqwen/models/smollm2-135m-instruct .cache/tests/home/models/ \
    && .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_examples.py'
}
fast_tests() {  # the tests that need no model built with torch (each build is minutes under emulation)
  inside '.venv/bin/python -m pytest -q -p no:cacheprovider tests/test_sampling.py tests/test_chat.py \
    tests/test_tokenizer.py tests/test_relax.py tests/test_reply.py tests/test_loop.py \
    tests/test_openai_backend.py tests/test_bad_input.py tests/test_api.py'
}
llamacpp_install() {  # the cross-built wheel in the root's .venv, and the OpenMP runtime it links
  # (a Pi with the compiler setup.sh's own build needs has it; the minimal root has not)
  bind "$WHEELS" /wheels &&
    inside 'command -v gcc >/dev/null || [ -e /usr/lib/aarch64-linux-gnu/libgomp.so.1 ] || apt-get install -y libgomp1 \
      || { apt-get update && apt-get install -y libgomp1; }; [ -x .venv/bin/python ] || python3 -m venv .venv; \
      .venv/bin/python -m pip --disable-pip-version-check -q install /wheels/llama_cpp_python-*linux_aarch64.whl'
}
llamacpp_main_command() {  # README command 1 as a Pi with llama.cpp runs it: the demo GGUF as it is, no conversion
  inside 'bash tools/setup.sh && .venv/bin/edgeqwen run "What is the capital of France?" && .venv/bin/python -c "
from edgeqwen import Assistant
a = Assistant(\"demo\")
print(\"backend:\", a.backend.name)
assert a.backend.name == \"llamacpp\", a.backend.name"'
}
llamacpp_tests() {  # tiny Qwen2/Qwen3 GGUFs vs transformers, greedy tokens vs llama-cpp-python's own
  # generation, the tokenizer vs llama.cpp's, prefix reuse, grammar, cancel, safety through Assistant
  inside '.venv/bin/python -m pytest -q -p no:cacheprovider tests/test_llamacpp.py'
}
versions() {
  inside 'uname -m; .venv/bin/python --version; .venv/bin/python -m pip list 2>/dev/null | grep -i -E "^(edgeqwen|onnxruntime|llguidance|tokenizers|numpy|torch|transformers|jsonschema|llama_cpp_python) "'
}
decode_speed() {
  inside '.venv/bin/python -c "
from edgeqwen import Assistant
r = Assistant(\"demo\", policy=\"none\", max_tokens=32).chat(\"Tell me about Paris.\")
print(f\"demo model decode under emulation: {r.metrics.decode_tps:.1f} tokens/s ({r.metrics.generated_tokens} tokens)\")"'
}

step "host: qemu-user-static, binfmt-support, debootstrap" host_tools
step "host: binfmt_misc with qemu-aarch64" binfmt
step "arm64 Debian $SUITE root (debootstrap)" rootfs
enter
copy_tree
if [ "${ONLY:-}" != llamacpp ]; then
  step "README main command: setup.sh + edgeqwen run" main_command
  step "edgeqwen probe" probe
  step "examples (tests/test_examples.py, demo model)" examples
  step "fast tests" fast_tests
fi
if [ "${ONLY:-}" != onnx ]; then
  step "llama.cpp: llama-cpp-python wheel cross-compiled for a Pi 5 ($PI5_ARCH)" llamacpp_wheel
  step "llama.cpp: the wheel installed in the root" llamacpp_install
  step "README main command with llama.cpp: demo GGUF, no conversion" llamacpp_main_command
  step "edgeqwen probe, llama.cpp installed" probe
  step "llama.cpp backend tests (tests/test_llamacpp.py)" llamacpp_tests
fi
step "versions" versions
step "decode speed (emulated)" decode_speed

echo
echo "== arm64 check ($(date -u +%F), host $(uname -m), root $RFS) =="
echo "   .venv from an earlier run reused: $REUSED"
printf '%s\n' "${RESULTS[@]}"
for name in versions "decode speed (emulated)"; do
  f="$LOG/$(slug "$name").log"
  [ -f "$f" ] && sed 's/^/  /' "$f"
done
echo "[total ${SECONDS}s; logs in ${LOG#"$REPO"/}]"
! printf '%s\n' "${RESULTS[@]}" | grep -q '^FAIL'

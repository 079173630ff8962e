#!/usr/bin/env bash
# Run edgeqwen on arm64 Linux (Debian bookworm, as Raspberry Pi OS is) under qemu user emulation:
# the README's setup and main command, `edgeqwen probe`, every example on the demo model, and the
# fast part of the test suite. A functional check: emulated speed says nothing about a Pi's.
#
#   sudo bash tools/arm64/check.sh [ROOTFS]     (default: .cache/arm64/rootfs, reused when there)
#
# Needs root (debootstrap, chroot, mounts) and network to Debian and PyPI. Installs Debian's
# qemu-user-static, binfmt-support and debootstrap on the host if missing. Every mount it makes
# is undone on exit; binfmt_misc is unmounted again if it was not mounted before.
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

# -- the checks -------------------------------------------------------------------------------------
main_command() {  # README, "Set up and run (fresh machine)", command 1, exactly; but without the
  # llama.cpp build, which under emulation takes hours (the ONNX fallback path is what runs here)
  inside 'export EDGEQWEN_NO_LLAMACPP=1; bash tools/setup.sh && .venv/bin/edgeqwen run "What is the capital of France?"'
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
versions() {
  inside 'uname -m; .venv/bin/python --version; .venv/bin/python -m pip list 2>/dev/null | grep -i -E "^(edgeqwen|onnxruntime|llguidance|tokenizers|numpy|torch|transformers|jsonschema) "'
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
step "README main command: setup.sh + edgeqwen run" main_command
step "edgeqwen probe" probe
step "examples (tests/test_examples.py, demo model)" examples
step "fast tests" fast_tests
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

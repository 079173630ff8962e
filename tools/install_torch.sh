#!/usr/bin/env bash
# Install the torch the ONNX converter runs on, as a CPU build, into the venv whose python is $1.
#   bash tools/install_torch.sh .venv/bin/python
# PyPI's torch for Linux is a CUDA build, on x86_64 and now on aarch64 too: 2.13.0+cu130 made a venv
# of 4.8 GB on x86_64, 2.7 GB of it nvidia packages, and of 5.2 GB in an arm64 Debian root (a Pi's
# SD card), where PyTorch's own CPU index has a ~200 MB wheel (x86_64) or a CPU build for aarch64.
# PyPI's macOS wheels are CPU builds. Where the CPU index cannot be reached or lacks the build,
# PyPI's is installed and the script says so (it runs on the CPU as well).
# EDGEQWEN_TORCH_INDEX: another index for the CPU build (a mirror).
set -euo pipefail
py=${1:?usage: bash tools/install_torch.sh VENV_PYTHON}
version=2.13.0 # the build this project is tested with
index=${EDGEQWEN_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}
pip() { "$py" -m pip --disable-pip-version-check -q "$@"; }

case "$(uname -s) $(uname -m)" in "Linux x86_64" | "Linux aarch64") cpu_index=yes ;; *) cpu_index=no ;; esac
if [ "$cpu_index" = yes ]; then
  # two retries, not pip's five: an index that is not there costs seconds, not a minute
  if ! pip install --retries 2 --index-url "$index" "torch==$version"; then
    echo "tools/install_torch.sh: PyTorch's CPU index ($index) did not answer or has no torch $version for $("$py" -V);" \
      "installing PyPI's torch $version instead, a CUDA build of about 3.5 GB (its nvidia packages) that also runs on the CPU." \
      "For the CPU build later: $py -m pip install --force-reinstall torch==$version --index-url $index" >&2
    pip install "torch==$version"
  fi
else
  pip install "torch==$version"
fi
"$py" -W ignore -c "import torch; print('torch', torch.__version__, '(a CUDA build)' if torch.version.cuda else '(CPU build)')"

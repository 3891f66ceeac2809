#!/usr/bin/env bash
# Creates bench/.venv with the peers `attnlab bench` compares against: NumPy (tile kernels) and
# llama-cpp-python (the real model). Never part of the product or of CI; run it once by hand:
#
#     bash bench/setup.sh            # minutes: llama.cpp is compiled from source for this CPU
#
# The versions are pinned so that numbers in the README can be re-run against the same peers.
# CMAKE_ARGS and CMAKE_BUILD_PARALLEL_LEVEL from the environment win over the defaults below.
set -euo pipefail

NUMPY_VERSION=2.4.6
LLAMA_CPP_PYTHON_VERSION=0.3.36

here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

# llama-cpp-python ships as source only: it needs a C/C++ compiler and CMake.
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v c++ >/dev/null || missing+=(build-essential)
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "setup: installing ${missing[*]} with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "setup: please install ${missing[*]} first (Debian: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip

# Built for this machine's CPU (GGML_NATIVE: AVX2 where there is AVX2), CPU only, no BLAS: the
# same kind of code AttnLab runs; without the multimodal library (LLAVA_BUILD), which bench does not
# use. Two compile jobs: the reference machine has two cores.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DLLAVA_BUILD=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
"$venv/bin/python" -m pip install --no-cache-dir \
    "numpy==$NUMPY_VERSION" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"

"$venv/bin/python" -c 'import numpy, llama_cpp; print("setup: numpy", numpy.__version__, "· llama-cpp-python", llama_cpp.__version__, "in bench/.venv")'

#!/usr/bin/env bash
# The GPU check, in one go, on a machine with an NVIDIA GPU, nvcc, CMake, ninja and a Python
# that has PyTorch (and, optionally, nvidia-cublas from PyPI): builds ember from this working
# tree into a fresh venv (with the system's site-packages, for torch), runs tests/test_cuda.py,
# benchmarks/gpu_check.py (build info, GEMM TFLOP/s of ember vs PyTorch, training steps/s on GPU
# vs CPU), benchmarks/gpu_crosscheck.py (CUDA against CPU results and gradients at training
# sizes) and, when MNIST is found, one epoch of each MNIST example on the GPU and on the CPU.
# About 3 to 4 minutes; every step has its own timeout, and a failing step does not stop the
# ones after it (the exit status says whether any failed).
#
#   bash benchmarks/gpu_check.sh            # from the repository root
#   PYTHON=/path/to/python3 ARCH=90 DATA_DIR=../shared/data bash benchmarks/gpu_check.sh
#
# ARCH (default: 90, Hopper) is the one CUDA architecture built, to keep the build short.
# DATA_DIR holds mnist/ (default: ../shared/data, as the examples).
# Results go to $OUT (or /tmp/ember-gpu-check): build.log, tests.log, gpu_check.json,
# crosscheck.log, mnist.log.
set -euo pipefail
cd "$(dirname "$0")/.."

STEP="start"
trap 'rc=$?; echo; echo "gpu_check: FAILED in step: $STEP (exit code $rc)" >&2' ERR
step() {
  STEP="$1"
  echo
  echo "=== $1 ($(date +%H:%M:%S))"
}

PYTHON=${PYTHON:-python3}
ARCH=${ARCH:-90}
DATA_DIR=$(realpath -m "${DATA_DIR:-../shared/data}")
FAILED=()
RESULTS=${OUT:-/tmp/ember-gpu-check}
VENV=/tmp/ember-gpu-venv
mkdir -p "$RESULTS"

step "environment"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
nvcc --version | tail -n 2
cmake --version | head -n 1
"$PYTHON" - <<'EOF'
import sys
import numpy
try:
    import torch
    t = f"torch {torch.__version__} | torch.cuda {torch.cuda.is_available()}"
except ImportError:
    t = "torch: not installed (no PyTorch comparison)"
print("python", sys.version.split()[0], "| numpy", numpy.__version__, "|", t)
EOF

step "venv (system site-packages: torch, numpy, pytest, pybind11, scikit-build-core)"
rm -rf "$VENV"
PIP=()
if "$PYTHON" -m venv --system-site-packages "$VENV"; then
  PIP=("$VENV/bin/python" -m pip)
else  # no ensurepip: drive the new venv with the outer Python's pip
  "$PYTHON" -m venv --system-site-packages --without-pip "$VENV"
  PIP=("$PYTHON" -m pip --python "$VENV/bin/python")
fi
PY="$VENV/bin/python"
# When $PYTHON is itself a venv (the GPU image's python3 is), --system-site-packages reaches
# only the base interpreter's packages: make the outer environment's packages visible too.
"$PYTHON" -c "import site; print('\n'.join(site.getsitepackages()))" \
  >"$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/outer_site.pth"
"$PY" -c "import scikit_build_core, pybind11, pytest, numpy; print('scikit-build-core', \
scikit_build_core.__version__, '| pybind11', pybind11.__version__, '| pytest', pytest.__version__)"

# cuBLAS from the nvidia-cublas wheel when the CUDA toolkit has none: point CMake at the wheel's
# library and headers (nvidia/cu13/{lib,include}; its libraries carry only versioned names, so
# they are named directly).
step "locate cuBLAS"
CUBLAS_ARGS=()
CUBLAS_LIB=$("$PY" - <<'EOF' || true
import glob, os
try:
    import nvidia  # namespace package of NVIDIA's wheels: nvidia/cu13/... or nvidia/cublas/...
except ImportError:
    raise SystemExit(0)
for root in nvidia.__path__:
    for lib in sorted(glob.glob(os.path.join(root, "*", "lib", "libcublas.so.*"))):
        home = os.path.dirname(os.path.dirname(lib))
        lt = sorted(glob.glob(os.path.join(home, "lib", "libcublasLt.so.*")))
        if lt and os.path.exists(os.path.join(home, "include", "cublas_v2.h")):
            print(lib, lt[0], os.path.join(home, "include"))
            raise SystemExit(0)
EOF
)
if [ -n "$CUBLAS_LIB" ] && ! ls /usr/local/cuda/lib64/libcublas.so >/dev/null 2>&1; then
  read -r LIB LT INC <<<"$CUBLAS_LIB"
  echo "using the nvidia-cublas wheel: $LIB"
  CUBLAS_ARGS=(-Ccmake.define.CUDA_cublas_LIBRARY="$LIB" -Ccmake.define.CUDA_cublasLt_LIBRARY="$LT"
               -Ccmake.define.EMBER_CUBLAS_INCLUDE_DIR="$INC")
  export LD_LIBRARY_PATH="$(dirname "$LIB")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  echo "cuBLAS: whatever the CUDA toolkit provides (none means ember's own GEMM only)"
fi

step "build and install ember (CUDA architecture $ARCH)"
rm -rf build/gpu-check
export CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
start=$(date +%s)
timeout 300 "${PIP[@]}" install --no-build-isolation --no-deps --no-index -v . \
  -Cbuild-dir=build/gpu-check -Ccmake.define.EMBER_CUDA=ON \
  -Ccmake.define.CMAKE_CUDA_ARCHITECTURES="$ARCH" ${CUBLAS_ARGS[@]+"${CUBLAS_ARGS[@]}"} >"$RESULTS/build.log" 2>&1 \
  || { tail -n 40 "$RESULTS/build.log"; false; }
grep -E "^ *-- +(CUDA|OpenMP|SIMD) +:" "$RESULTS/build.log" || true
echo "build took $(( $(date +%s) - start )) s"

step "import check"
cd /tmp  # import the installed package, not the source tree
"$PY" -c "import ember, ember.cuda; print(ember.build_info()); \
print('cuda available:', ember.cuda.is_available(), '| devices:', ember.cuda.device_count()); \
assert ember.cuda.is_available(), 'ember sees no CUDA device'"
cd - >/dev/null

# From here on a failing step is recorded and the next one runs: one run on a GPU machine shows
# every problem at once.
set +e
trap - ERR
ROOT=$PWD
check() {  # check NAME COMMAND...: run it, record a failure
  "${@:2}"
  local rc=$?
  if [ $rc -ne 0 ]; then
    FAILED+=("$1 (exit $rc)")
    echo "gpu_check: step '$1' failed (exit code $rc)"
  fi
}

step "tests/test_cuda.py"
check tests bash -o pipefail -c "timeout 240 '$PY' -m pytest tests/test_cuda.py -q -p no:cacheprovider \
  --rootdir=. 2>&1 | tee '$RESULTS/tests.log' | tail -n 30"

cd /tmp  # from here on, import the installed package, not the source tree
step "benchmarks (benchmarks/gpu_check.py)"
PYTHONUNBUFFERED=1 check benchmarks timeout 200 "$PY" "$ROOT/benchmarks/gpu_check.py" \
  --json "$RESULTS/gpu_check.json"

step "CUDA against CPU at training sizes (benchmarks/gpu_crosscheck.py)"
check crosscheck bash -o pipefail -c "PYTHONUNBUFFERED=1 timeout 150 '$PY' \
  '$ROOT/benchmarks/gpu_crosscheck.py' 2>&1 | tee '$RESULTS/crosscheck.log'"

step "MNIST examples, one epoch on the GPU and on the CPU"
if [ -d "$DATA_DIR/mnist" ]; then
  for example in mnist_mlp mnist_lenet; do
    for device in cuda cpu; do
      echo "--- $example on $device"
      check "$example $device" bash -o pipefail -c "PYTHONUNBUFFERED=1 timeout 90 '$PY' \
        '$ROOT/examples/$example.py' --epochs 1 --device $device --verbose 0 \
        --data-dir '$DATA_DIR' 2>&1 | tee -a '$RESULTS/mnist.log'"
    done
  done
else
  echo "no MNIST at $DATA_DIR/mnist (set DATA_DIR): skipped"
fi
cd "$ROOT"

echo
if [ ${#FAILED[@]} -eq 0 ]; then
  echo "gpu_check: all steps passed; results in $RESULTS"
else
  echo "gpu_check: FAILED steps: ${FAILED[*]}; results in $RESULTS"
  exit 1
fi

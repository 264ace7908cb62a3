#!/usr/bin/env bash
# The CUDA tests and the bench on a GPU machine, in one go (used for the closing notes).
# Usage: OUT=folder bash benchmarks/gpu_run.sh   (writes logs and bench JSON into $OUT)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-reports}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
$PY -c "import torch, jax; print('torch', torch.__version__, torch.cuda.get_device_name(0)); print('jax', jax.__version__, jax.devices())" | tee -a "$OUT/gpu.txt"
$PY -m pytest -q -p no:cacheprovider -o addopts="" -rs tests/gpu tests/unit/test_probe_mode.py tests/unit/test_finite_differences.py 2>&1 | tee "$OUT/cuda_tests.log" | tail -15
$PY -m vjpcheck programs --device cuda --mode composed --programs 600 --workers 4 --seed 7 --quiet --report "$OUT/programs_cuda.json" 2>&1 | tee "$OUT/programs_cuda.log"
$PY -m vjpcheck programs --device cuda --mode composed --programs 500 --transforms compile,vmap --workers 4 --seed 8 --quiet --report "$OUT/programs_cuda_transforms.json" 2>&1 | tee "$OUT/programs_cuda_transforms.log"
$PY -m vjpcheck bench --device cuda --program-seconds 0 --report "$OUT/bench_cuda.json" 2>&1 | tee "$OUT/bench_cuda.log"
$PY -m vjpcheck bench --device cpu --program-seconds 15 --workers 2 --report "$OUT/bench_cpu.json" 2>&1 | tee "$OUT/bench_cpu.log"

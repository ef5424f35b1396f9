#!/usr/bin/env bash
# The GPU checks as one prepared command, for a session that is lent a GPU.
#
#   bash benchmarks/gpu_check.sh prepare   # here, with pip's registry: fills .gpu/ (ignored by git)
#   bash benchmarks/gpu_check.sh [OUTDIR]  # on the GPU machine, .gpu/ carried along
#
# `prepare` downloads the wheel of skorch (the one dependency that the GPU image lacks; pure
# Python) and copies the Fashion-MNIST idx files into .gpu/. The check then runs, each step
# logged to OUTDIR (default: $OUT when set, else ./gpu_check):
#   1. nvidia-smi and the versions seen;
#   2. the tests marked `gpu` (python -m pytest -m gpu tests): the CUDA runs of
#      tests/test_devices.py and of the CUDA pickling test;
#   3. the benchmark's transform and memory sections on CUDA (--quick);
#   4. its fit section on CUDA at p = 512 (the issue's 10-minute target, on the GPU).
# A failing step does not stop the later ones; the exit status is that of the first failure.
# Not yet run on a GPU: the estimate for an H200 machine is 5-8 minutes, most of it step 4;
# give it a timeout of 9 minutes (the device allows 10 a command), and split the steps if short.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "prepare" ]; then
  set -e
  rm -rf .gpu && mkdir -p .gpu/wheels .gpu/fashion-mnist
  version=$(python3 -c "import skorch; print(skorch.__version__)" 2>/dev/null || echo 1.4.0)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 -d .gpu/wheels "skorch==$version"
  cp /usr/share/datasets/fashion-mnist/*-ubyte.gz .gpu/fashion-mnist/
  du -sh .gpu
  exit 0
fi

out="${1:-${OUT:-gpu_check}}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py=python3
if ! $py -c "import skorch" 2>/dev/null; then
  if ls .gpu/wheels/*.whl >/dev/null 2>&1; then
    $py -m pip install -q --no-index --no-deps --no-compile --target /tmp/skl0-site .gpu/wheels/*.whl
    export PYTHONPATH="$PYTHONPATH:/tmp/skl0-site"
  else
    echo "skorch is missing: run 'bash benchmarks/gpu_check.sh prepare' here and carry .gpu" >&2
    exit 2
  fi
fi
data=()
[ -d .gpu/fashion-mnist ] && data=(--data .gpu/fashion-mnist)

status=0
step() {  # step NAME COMMAND...: run, log to $out/NAME.log, remember the first failure
  local name=$1
  shift
  echo "== $name: $*"
  "$@" 2>&1 | tee "$out/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc"
  [ "$status" -eq 0 ] && status=$rc
  return 0
}

step env bash -c "nvidia-smi; $py -c 'import torch, sklearn, skorch, numpy; \
print(torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name(0), \
sklearn.__version__, skorch.__version__, numpy.__version__)'"
step tests $py -m pytest -q -m gpu -p no:cacheprovider tests
step transform $py benchmarks/run.py --quick --device cuda --section transform memory "${data[@]}"
step fit512 $py benchmarks/run.py --device cuda --section fit --sizes 512 "${data[@]}"
exit "$status"

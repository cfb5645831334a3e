#!/usr/bin/env bash
# One prepared GPU check: every CUDA figure BENCHMARKS.md lacks, in one markdown table and
# its JSON ($OUT/gpu_check.md, gpu_check.json; else results/gpu_check/).
#
#   bash benchmarks/gpu_check.sh [gpu_check.py options]          # a networked machine
#   bash benchmarks/gpu_check.sh --image [gpu_check.py options]  # an offline GPU node
#
# Default mode (8 minutes in all, install included):
# 1. .venv exactly as `make venv` makes it: CPython 3.11, every package at the version and
#    hash of requirements/lock-py3.11-linux-x86_64.txt (torch 2.14.1 with its CUDA 13
#    wheels), then harfuse itself; a no-op when .venv is already at the lock. Needs the
#    network (PyPI) and python3.11 (or PYTHON=/path/to/python3.11).
# 2. benchmarks/gpu_check.py in what is left of the budget: pytest -m cuda first, then each
#    section with its share of the time; sections that run out say "skipped: budget".
#
# --image (7 minutes in all): a node with its own Python and torch and no network, given
# this tree and the bundle `make gpu-bundle` wrote here (.gpu-bundle/: the demo's shards
# and cv2's reference flows, which that image cannot make, and any wheels it lacks).
# 1. The bundle's wheels, if any, installed with pip --no-index --target .gpu-bundle/site.
# 2. gpu_check.py --image with the image's python3 (GPU_CHECK_PYTHON to name another) and
#    src/ (and .gpu-bundle/site) on PYTHONPATH; no step needs the network or a compiler.
#
# Environment: BUDGET_S (seconds in all; default 480, --image 420), OUT (results folder),
# PYTHON (the interpreter for the venv), GPU_CHECK_PYTHON (default mode: skip step 1 and
# run with this interpreter and src/ on PYTHONPATH; --image: the image's interpreter),
# GPU_BUNDLE (the bundle's folder, default .gpu-bundle), GPU_CHECK_DEVICE (default cuda;
# cpu: a dry run without a GPU, e.g. in `make image-env`'s imitation of the image:
#   GPU_CHECK_DEVICE=cpu GPU_CHECK_PYTHON=.venv-image/bin/python \
#     bash benchmarks/gpu_check.sh --image --tiny   # with a bundle made by --tiny too)
# Rerun one section alone, e.g. after a fix: BUDGET_S=150 bash benchmarks/gpu_check.sh
# --image --sections parity
# The dry run on a CPU, which tests/test_gpu_check.py runs:
#   .venv/bin/python benchmarks/gpu_check.py --device cpu --tiny --out /tmp/gpucheck
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=0
if [ "${1:-}" = "--image" ]; then
	IMAGE=1
	shift
fi
if [ "$IMAGE" = 1 ]; then
	BUDGET_S=${BUDGET_S:-420}
else
	BUDGET_S=${BUDGET_S:-480}
fi
LOCK=requirements/lock-py3.11-linux-x86_64.txt
BUNDLE=${GPU_BUNDLE:-.gpu-bundle}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
OUT_DIR=${OUT:-results/gpu_check}
start=$SECONDS

step() {
	echo "[gpu_check.sh $((SECONDS - start)) s of ${BUDGET_S} s] $*" >&2
}

# --- 1. install ------------------------------------------------------------------------
extra=()
if [ "$IMAGE" = 1 ]; then
	py=${GPU_CHECK_PYTHON:-python3}
	if [ ! -d "$BUNDLE/full" ] && [ ! -d "$BUNDLE/tiny" ]; then
		echo "no $BUNDLE/ here: run \`make gpu-bundle\` where the lock is installed, and" \
			"copy $BUNDLE with the tree" >&2
		exit 2
	fi
	site=""
	if compgen -G "$BUNDLE/wheels/*.whl" >/dev/null; then
		step "install: the bundle's wheels into $BUNDLE/site (no index)"
		"$py" -m pip install --quiet --no-index --no-deps --target "$BUNDLE/site" "$BUNDLE"/wheels/*.whl
		site="$(cd "$BUNDLE/site" && pwd):"
	fi
	export PYTHONPATH="${site}$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
	extra=(--image --bundle "$BUNDLE")
	step "image: $("$py" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)')"
elif [ -n "${GPU_CHECK_PYTHON:-}" ]; then
	py=$GPU_CHECK_PYTHON
	export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
	step "no install: $py with src/ on PYTHONPATH (GPU_CHECK_PYTHON)"
else
	if [ -z "${PYTHON:-}" ]; then
		PYTHON=$(command -v python3.11 || command -v python3 || true)
	fi
	step "install: .venv from $LOCK with ${PYTHON:-no python3}"
	if command -v make >/dev/null; then
		make venv PYTHON="$PYTHON"
	else # the commands of the Makefile's venv target
		test -x .venv/bin/python || "$PYTHON" -m venv .venv
		.venv/bin/python -m pip install --quiet --require-hashes --no-deps -r "$LOCK"
		.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
		.venv/bin/python tools/lockcheck.py --sync "$LOCK"
		touch .venv/.harfuse-installed
	fi
	py=.venv/bin/python
	step "install done"
fi

if [ "$DEVICE" != cuda ]; then
	step "dry run on $DEVICE (GPU_CHECK_DEVICE): CUDA-only rows say skipped"
elif ! "$py" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
	echo "torch sees no CUDA device here; for a dry run on the CPU:" \
		"$py benchmarks/gpu_check.py --device cpu --tiny" >&2
	exit 1
fi

# --- 2. measure, in what is left ---------------------------------------------------------
# margin: interpreter start-up and CUDA initialisation before the budget's clock starts,
# and the table's printing after it
left=$((BUDGET_S - (SECONDS - start) - 30))
if [ "$left" -lt 60 ]; then
	step "only ${left} s left after the install: measuring with 60 s, over the budget"
	left=60
fi
step "measure: benchmarks/gpu_check.py --budget ${left} --out ${OUT_DIR}"
mkdir -p "$OUT_DIR"
rc=0
# SIGINT first: gpu_check.py then stops the section it is in and prints what it has
timeout --signal=INT --kill-after=15 $((left + 25)) \
	env PYTHONUNBUFFERED=1 "$py" benchmarks/gpu_check.py --device "$DEVICE" --budget "$left" \
	--out "$OUT_DIR" "${extra[@]}" "$@" || rc=$?
step "done (exit ${rc}); table in ${OUT_DIR}/gpu_check.md"
if [ "$rc" -ne 0 ] && [ -f "$OUT_DIR/gpu_check.md" ]; then
	echo "gpu_check.py did not finish; the table as of its last finished section:"
	cat "$OUT_DIR/gpu_check.md"
fi
exit "$rc"

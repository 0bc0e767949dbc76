#!/usr/bin/env bash
# The GPU measurements of this project, prepared for one call of a lent GPU machine (an
# H100 or H200 that has torch but no optuna and no internet, and about 15 minutes of device
# time in all, its start included). Two verbs:
#
#   bash scripts/gpu_check.sh prepare   # here: optuna's wheels and the data into .gpu/
#   bash scripts/gpu_check.sh run       # there, in a copy of this folder with .gpu/ in it
#
# `run` does, in this order and inside BUDGET seconds (default 570; one command may run 600):
#   1. installs the carried wheels into /tmp/gpu_site and the data into data/;
#   2. times the whole report, WORKERS=4 bash scripts/reproduce.sh --device cuda, into
#      outputs/gpu/ (the goal: <= 8 min); it stops at 8 min, leaving times.tsv of the steps done;
#   3. in the time left, benchmarks/bench_epoch.py and benchmarks/bench_tsne.py --points 0
#      (scikit-learn's Barnes-Hut; the GPU machine has scikit-learn);
#   4. leaves its log and outputs/gpu/ (no checkpoints, no database) in $OUT.
# Try it first on a CPU: DEVICE=cpu QUICK=1 OUT=/tmp/gpu_check bash scripts/gpu_check.sh run
set -uo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

prepare() {
    mkdir -p .gpu/wheels .gpu/data
    # optuna and what it needs that the GPU machine lacks, for its Python 3.12
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .gpu/wheels \
        optuna==5.0.0 alembic==1.20.1 colorlog==6.12.0 Mako==1.4.3 SQLAlchemy==2.1.9
    # the four IDX files, compressed (about 30 MB of the 64 MiB a call may carry)
    local src=/usr/share/datasets/fashion-mnist raw=data/FashionMNIST/raw f
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
             t10k-labels-idx1-ubyte; do
        if [[ -f $src/$f.gz ]]; then cp "$src/$f.gz" .gpu/data/
        elif [[ -f $raw/$f ]]; then gzip -c "$raw/$f" > ".gpu/data/$f.gz"
        else echo "error: no $f in $src or $raw (apt-get install dataset-fashion-mnist)"; exit 1
        fi
    done
    du -sh .gpu
}

run() {
    local budget=${BUDGET:-570} start=$SECONDS device=${DEVICE:-cuda} quick=() rc
    local report=outputs/gpu tsne_points=0 epochs=3
    if [[ -n ${QUICK:-} ]]; then quick=(--quick) tsne_points=500 epochs=1; fi
    left() { echo $((budget - (SECONDS - start))); }

    if compgen -G ".gpu/wheels/*.whl" > /dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/gpu_site .gpu/wheels/*.whl || exit 1
        export PYTHONPATH=/tmp/gpu_site${PYTHONPATH:+:$PYTHONPATH}
    fi
    if ! command -v python > /dev/null; then    # the scripts call `python`; there is python3
        mkdir -p /tmp/gpu_bin && ln -sf "$(command -v python3)" /tmp/gpu_bin/python
        export PATH=/tmp/gpu_bin:$PATH
    fi
    local raw=data/FashionMNIST/raw f
    if [[ ! -f $raw/train-images-idx3-ubyte ]] && compgen -G ".gpu/data/*.gz" > /dev/null; then
        mkdir -p "$raw"
        for f in .gpu/data/*.gz; do gunzip -c "$f" > "$raw/$(basename "${f%.gz}")"; done
    fi
    nvidia-smi -L 2>/dev/null
    python - << 'EOF' || exit 1
import matplotlib, optuna, torch, torchvision
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, optuna {optuna.__version__}, {gpu}")
EOF

    rm -rf "$report"    # a fresh study each time: reproduce.sh would resume an old one
    echo "=== the whole report: WORKERS=${WORKERS:-4} bash scripts/reproduce.sh --device $device ${quick[*]}"
    local t0=$SECONDS
    timeout 480 env WORKERS="${WORKERS:-4}" \
        bash scripts/reproduce.sh --device "$device" "${quick[@]}" --out-dir "$report"
    rc=$?
    echo "=== reproduce.sh: $((SECONDS - t0)) s in all, exit $rc (124: stopped at 8 min)"
    cat "$report/times.tsv"

    echo "=== benchmarks/bench_epoch.py ($(left) s left)"
    timeout "$(left)" python benchmarks/bench_epoch.py --device "$device" --epochs "$epochs"
    echo "=== benchmarks/bench_tsne.py ($(left) s left)"
    timeout "$(left)" python benchmarks/bench_tsne.py --device "$device" --points "$tsne_points" \
        --methods barnes_hut --out-dir "$report"
    echo "=== done after $((SECONDS - start)) s"
}

case ${1:-} in
    prepare) prepare ;;
    run)
        out=${OUT:-outputs/gpu_check}
        mkdir -p "$out"
        run 2>&1 | tee "$out/gpu_check.log"
        tar czf "$out/gpu_outputs.tar.gz" --exclude='*.pt' --exclude='*.db' -C outputs gpu
        ls -la "$out"
        ;;
    -h|--help) usage ;;
    *) echo "gpu_check.sh: error: expected a verb, prepare or run (got '${1:-}')" >&2
       usage >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The GPU measurements of this project, in at most 570 s on one NVIDIA GPU (measured on an
# H200): the test suite, the whole report timed with its steps side by side, and the two
# benchmarks. Two verbs:
#
#   bash benchmarks/gpu_check.sh prepare   # on a machine with internet: optuna's wheels and
#                                          # the compressed data into .gpu/
#   bash benchmarks/gpu_check.sh run       # on the GPU machine (torch and pytest, no
#                                          # internet needed), in a copy of this folder
#                                          # with .gpu/ in it
#
# `run` does, in this order, inside BUDGET seconds (default 570) split as SUITE_S, REPORT_S
# and the rest (set at the top of the script, or in the env):
#   1. unpacks the carried data (.gpu/data/*.gz) into data/FashionMNIST/raw/, unless all four
#      files are already there (so a second run in the same copy needs nothing by hand),
#      then installs the carried wheels into /tmp/gpu_site (on PYTHONPATH, pytest's too);
#   2. runs the whole test suite, python3 -m pytest -n 8 -rA -v test_all.py (no -n 8 where
#      pytest-xdist is missing), stopped at SUITE_S = 200 s (it took 162 s on the H200);
#      its whole output goes to $OUT/pytest.log, its summary line and failures to the log;
#   3. times the whole report, WORKERS=4 python -m scripts.reproduce --device cuda --jobs
#      JOBS (default 3: the AE chain, the VAE chain and Adam against SGD side by side), into
#      outputs/gpu/, stopped at min(REPORT_S = 240 s, the time left), leaving times.tsv of
#      the steps done and, if it ended, its wall time (the goal: 180 s; one step at a time
#      it took 355 s on the H200);
#   4. in the time left (about 115 s): python -m benchmarks.bench_epoch --json
#      $OUT/bench_epoch.json (its four rows), then python -m benchmarks.bench_tsne --points 0
#      (scikit-learn's Barnes-Hut, where scikit-learn is installed).
# It leaves in $OUT (default outputs/gpu_check/): gpu_check.log (everything printed but the
# suite's own output), pytest.log, bench_epoch.json, and gpu_outputs.tar.gz (outputs/gpu/
# without checkpoints and database; bench_tsne.json is in it).
#
# Try it first on a CPU: DEVICE=cpu QUICK=1 OUT=/tmp/gpu_check bash benchmarks/gpu_check.sh run
# QUICK=1 runs only the tests named neither *end_to_end* nor *reproduce* (QUICK_TESTS
# below), the report with --quick, 1 timed epoch per bench_epoch row, t-SNE of 500 points.
set -uo pipefail
cd "$(dirname "$0")/.."

# One call's seconds, split (after about 15 s of setup):
BUDGET=${BUDGET:-570}       # all of `run`
SUITE_S=${SUITE_S:-200}     # 2. the test suite, stopped there
REPORT_S=${REPORT_S:-240}   # 3. the report, stopped at min(REPORT_S, the time left)
                            # 4. the benchmarks: the rest, about 115 s
QUICK_TESTS="not end_to_end and not reproduce"   # the suite's part under QUICK=1
DATA_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte
            t10k-labels-idx1-ubyte)

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

prepare() {
    mkdir -p .gpu/wheels .gpu/data
    # optuna and what it needs beyond torch and pytest, as wheels for Python 3.12
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .gpu/wheels \
        optuna==5.0.0 alembic==1.20.1 colorlog==6.12.0 Mako==1.4.3 SQLAlchemy==2.1.9
    # the four IDX files, compressed (about 30 MB of the 64 MiB a call may carry)
    local src=/usr/share/datasets/fashion-mnist raw=data/FashionMNIST/raw f
    for f in "${DATA_FILES[@]}"; do
        if [[ -f $src/$f.gz ]]; then cp "$src/$f.gz" .gpu/data/
        elif [[ -f $raw/$f ]]; then gzip -c "$raw/$f" > ".gpu/data/$f.gz"
        else echo "error: no $f in $src or $raw (apt-get install dataset-fashion-mnist)"; exit 1
        fi
    done
    du -sh .gpu
}

run() {
    local start=$SECONDS device=${DEVICE:-cuda} quick=() tests=() rc t0
    local report=outputs/gpu tsne_points=0 epochs=3
    if [[ -n ${QUICK:-} ]]; then
        quick=(--quick) tests=(-k "$QUICK_TESTS") tsne_points=500 epochs=1
    fi
    left() { echo $((BUDGET - (SECONDS - start))); }

    # 1. the data before anything else: each missing file from its .gz, through a .tmp
    # file, so that an unpacking cut short is never taken for the whole file
    local raw=data/FashionMNIST/raw f unpacked=0
    for f in "${DATA_FILES[@]}"; do
        if [[ ! -f $raw/$f && -f .gpu/data/$f.gz ]]; then
            mkdir -p "$raw"
            { gunzip -c ".gpu/data/$f.gz" > "$raw/$f.tmp" && mv "$raw/$f.tmp" "$raw/$f"; } || exit 1
            unpacked=$((unpacked + 1))
        fi
    done
    echo "=== data: $unpacked of the ${#DATA_FILES[@]} files unpacked from .gpu/data/ into $raw/"
    if compgen -G ".gpu/wheels/*.whl" > /dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/gpu_site .gpu/wheels/*.whl || exit 1
        export PYTHONPATH=/tmp/gpu_site${PYTHONPATH:+:$PYTHONPATH}
    fi
    if ! command -v python > /dev/null; then    # the scripts call `python`; there is python3
        mkdir -p /tmp/gpu_bin && ln -sf "$(command -v python3)" /tmp/gpu_bin/python
        export PATH=/tmp/gpu_bin:$PATH
    fi
    nvidia-smi -L 2>/dev/null
    python3 - << 'EOF' || exit 1
import importlib.util, os
import matplotlib, optuna, pytest, torch, torchvision
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
xdist = "pytest-xdist" if importlib.util.find_spec("xdist") else "no pytest-xdist"
print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, optuna "
      f"{optuna.__version__}, pytest {pytest.__version__}, {xdist}; {gpu}, {os.cpu_count()} CPUs")
EOF

    # 2. the suite. -v names each test as it ends, and SIGINT makes pytest print its -rA
    # summary, so that a stop at SUITE_S still leaves the name of every test that ran
    local log=$out/pytest.log xdist=()
    if python3 -c "import xdist" 2> /dev/null; then xdist=(-n 8); fi
    echo "=== the test suite: python3 -m pytest ${xdist[*]} -rA -v --durations=10" \
         "${tests[*]:+-k \"$QUICK_TESTS\"} test_all.py (stopped at $SUITE_S s; output in $log)"
    t0=$SECONDS
    timeout -s INT -k 20 "$SUITE_S" python3 -m pytest "${xdist[@]}" -rA -v --durations=10 \
        "${tests[@]}" test_all.py > "$log" 2>&1
    rc=$?
    echo "=== test suite: $((SECONDS - t0)) s, exit $rc (124 or 137: stopped at $SUITE_S s):" \
         "$(grep -E '^=+ .*(passed|failed|error|skipped|no tests ran).* =+$' "$log" | tail -n 1)"
    grep -E '^(FAILED|ERROR) ' "$log"

    # 3. the report
    rm -rf "$report"    # a fresh study each time: the report would resume an old one
    local report_s=$(( REPORT_S < $(left) ? REPORT_S : $(left) ))
    echo "=== the whole report: WORKERS=${WORKERS:-4} python -m scripts.reproduce --device" \
         "$device --jobs ${JOBS:-3} ${quick[*]} (stopped at $report_s s)"
    if (( report_s <= 0 )); then    # `timeout 0` would mean no limit
        echo "=== scripts.reproduce: not run, no time left"
    else
        t0=$SECONDS
        # timeout's SIGTERM reaches reproduce, which stops every running step (exit 143)
        timeout "$report_s" env WORKERS="${WORKERS:-4}" python -m scripts.reproduce \
            --device "$device" --jobs "${JOBS:-3}" "${quick[@]}" --out-dir "$report"
        rc=$?
        echo "=== scripts.reproduce: $((SECONDS - t0)) s in all, exit $rc (124: stopped at $report_s s)"
        cat "$report/times.tsv"    # its last row, "wall time", if it ended: against 180 s
    fi

    # 4. the benchmarks, in the time left
    echo "=== benchmarks.bench_epoch ($(left) s left)"
    if (( $(left) > 0 )); then
        timeout "$(left)" python -m benchmarks.bench_epoch --device "$device" --epochs "$epochs" \
            --json "$out/bench_epoch.json"
    else echo "not run, no time left"
    fi
    echo "=== benchmarks.bench_tsne ($(left) s left)"
    if (( $(left) > 0 )); then
        timeout "$(left)" python -m benchmarks.bench_tsne --device "$device" \
            --points "$tsne_points" --methods barnes_hut --out-dir "$report"
    else echo "not run, no time left"
    fi
    echo "=== done after $((SECONDS - start)) s"
}

case ${1:-} in
    prepare) prepare ;;
    run)
        out=${OUT:-outputs/gpu_check}
        mkdir -p "$out"
        rm -f "$out"/{pytest.log,bench_epoch.json,gpu_outputs.tar.gz}  # none from an earlier call
        run 2>&1 | tee "$out/gpu_check.log"
        if [[ -d outputs/gpu ]]; then
            tar czf "$out/gpu_outputs.tar.gz" --exclude='*.pt' --exclude='*.db' -C outputs gpu
        fi
        ls -la "$out"
        ;;
    -h|--help) usage ;;
    *) echo "gpu_check.sh: error: expected a verb, prepare or run (got '${1:-}')" >&2
       usage >&2; exit 2 ;;
esac

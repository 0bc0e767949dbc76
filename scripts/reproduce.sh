#!/usr/bin/env bash
# The whole report, every table and figure, in order, into outputs/ (outputs/quick/ with
# --quick):
#   tune the AE -> refit it (ae.py) -> tune the classifier -> fine-tune it (classify.py)
#   -> tune the VAE -> train it (vae.py) -> explore both latent spaces (explore.py)
#   -> outputs/summary.md, the report's numbers beside ours.
#
#   bash scripts/reproduce.sh --quick      # a first look, every step on a tiny subset
#   bash scripts/reproduce.sh              # the report's settings
#   WORKERS=4 bash scripts/reproduce.sh --device cuda   # 4 tuning workers share one GPU
#
# Every flag is passed to every script: use the common ones (--quick, --device, --seed,
# --data-dir, --out-dir, --subset). WORKERS tuning processes run each study together
# against one Optuna storage and stop at its 20 trials between them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " == *" --help "* || " $* " == *" -h "* ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
fi
workers=${WORKERS:-1}

out=outputs quick=0 prev=
for arg in "$@"; do
    case $arg in
        --quick) quick=1 ;;
        --out-dir=*) out=${arg#--out-dir=} explicit=1 ;;
    esac
    if [[ $prev == --out-dir ]]; then out=$arg explicit=1; fi
    prev=$arg
done
if [[ $quick == 1 && -z ${explicit:-} ]]; then out=outputs/quick; fi
mkdir -p "$out"
printf 'step\tseconds\n' > "$out/times.tsv"

step() {  # python SCRIPT ARGS..., timed
    local start=$SECONDS
    echo "=== python $*"
    python "$@"
    printf '%s\t%s\n' "$1" $((SECONDS - start)) >> "$out/times.tsv"
}

pids=()  # the background tuning workers of the study running now
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT  # if a step fails

tune() {  # one study: WORKERS processes against one storage, the first one in view
    local start=$SECONDS
    pids=()
    echo "=== python tune.py $* (workers: $workers)"
    for ((i = 2; i <= workers; i++)); do
        python tune.py "$@" > "$out/tune_$1_worker$i.log" 2>&1 &
        pids+=($!)
    done
    python tune.py "$@"
    for pid in "${pids[@]}"; do wait "$pid"; done
    pids=()
    printf 'tune.py %s (workers: %s)\t%s\n' "$1" "$workers" $((SECONDS - start)) >> "$out/times.tsv"
}

tune ae "$@"
step ae.py "$@"
tune classifier "$@"
step classify.py "$@"
tune vae "$@"
step vae.py "$@"
step explore.py "$@"
python scripts/summary.py --out-dir "$out"
echo "done: $out/summary.md"

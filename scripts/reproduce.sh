#!/usr/bin/env bash
# The whole report, every table and figure, in order, into outputs/ (outputs/quick/ with
# --quick), as the report did it: each model trained with the values its own tuning found.
#   tune the AE -> Adam vs SGD (ae.py --part compare) -> refit the AE with the tuned values
#   (ae.py --part refit --params OUT/tuned_ae.json) -> tune the classifier -> fine-tune it
#   (classify.py --params OUT/tuned_classifier.json) -> tune the VAE -> train it (vae.py
#   --params OUT/tuned_vae.json) -> explore both latent spaces (explore.py) -> the third
#   claim (python -m beyond.samples) -> outputs/summary.md, the report's numbers beside ours.
#
#   bash scripts/reproduce.sh --quick      # a first look, every step on a tiny subset
#   bash scripts/reproduce.sh              # the report's settings
#   WORKERS=4 bash scripts/reproduce.sh --device cuda   # 4 tuning workers share one GPU
#   bash scripts/reproduce.sh --seeds 3    # the above, then both configurations x 3 seeds
#
# Every flag is passed to every script: use the common ones (--quick, --device, --seed,
# --data-dir, --out-dir, --subset); each is checked against every script before anything
# is written. WORKERS tuning processes run each study together
# against one Optuna storage, worker i with --seed SEED + i - 1 (its own sampler), and stop
# at its 20 trials between them (Optuna's rule: up to WORKERS - 1 more).
#
# --seeds N (default 1: only the sequence above) then retrains every trained step
# (ae.py --part refit, classify.py --seeds 1, vae.py, explore.py, beyond.samples) for seeds
# SEED .. SEED+N-1
# (SEED = --seed, default 0) in two configurations, each into OUT/seeds/CONFIG/seedS/:
# "tables" (the report's Tables 4, 5 and 7: no --params) and "tuned" (OUT/tuned_*.json
# copied there and named by --params). The tuned run at SEED is the sequence above, so its
# results are copied from OUT rather than trained again. Each step's seconds go to
# OUT/seeds/times.tsv; then `python scripts/seeds.py --out-dir OUT` writes OUT/seeds.md and
# OUT/seeds.json: every number as mean +- sd over the seeds, both configurations side by
# side, and a verdict on each of the report's three latent-space claims. Run again after a
# stop, it keeps each seed run that finished with the same flags and tuned values (the
# studies, complete, run no trial) and redoes the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " == *" --help "* || " $* " == *" -h "* ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
fi
workers=${WORKERS:-1}

# --seeds is this script's own flag: take it out of what every script gets
seeds=1 args=() prev=
for arg in "$@"; do
    if [[ $prev == --seeds ]]; then seeds=$arg prev=; continue; fi
    case $arg in
        --seeds) prev=--seeds; continue ;;
        --seeds=*) seeds=${arg#--seeds=} ;;
        *) args+=("$arg") ;;
    esac
    prev=$arg
done
if [[ $prev == --seeds ]]; then echo "reproduce.sh: error: --seeds needs a number" >&2; exit 2; fi
if ! [[ $seeds =~ ^[1-9][0-9]*$ ]]; then
    echo "reproduce.sh: error: --seeds must be a positive integer, got '$seeds'" >&2; exit 2
fi
set -- ${args[@]+"${args[@]}"}

out=outputs quick=0 seed=0 prev=
for arg in "$@"; do
    case $arg in
        --quick) quick=1 ;;
        --out-dir=*) out=${arg#--out-dir=} explicit=1 ;;
        --seed=*) seed=${arg#--seed=} ;;
    esac
    if [[ $prev == --out-dir ]]; then out=$arg explicit=1; fi
    if [[ $prev == --seed ]]; then seed=$arg; fi
    prev=$arg
done
if [[ $quick == 1 && -z ${explicit:-} ]]; then out=outputs/quick; fi

# Every flag is checked against every script that will get it, before anything is written
# or deleted: a mistyped flag stops here, not after the training before the step that
# refuses it, and not after earlier results were cleared.
python - "$@" << 'EOF' || exit 2
import sys
import ae, classify, explore, tune, vae
from beyond import samples
from plumbing.cli import parse_args
for module, extra in [(tune, ["ae"]), (ae, ["--part", "compare"]), (ae, ["--part", "refit"]),
                      (tune, ["classifier"]), (classify, []), (tune, ["vae"]), (vae, []),
                      (explore, []), (samples, [])]:
    parser = module.build_parser()
    parser.prog = f"reproduce.sh: {module.__name__.replace('.', '/')}.py {' '.join(extra)}".strip()
    parse_args(parser, module.QUICK, extra + sys.argv[1:])
EOF
mkdir -p "$out"
printf 'step\tseconds\n' > "$out/times.tsv"  # the flags are good: this run's times begin

step() {  # NAME python-ARGS..., timed under NAME
    local name=$1 start=$SECONDS
    shift
    echo "=== python $*"
    python "$@"
    printf '%s\t%s\n' "$name" $((SECONDS - start)) >> "$out/times.tsv"
}

pids=()  # the background tuning workers of the study running now
# if a step fails or the run is stopped: the workers get SIGTERM, which fails their running
# trial (tune.py handles it as Ctrl-C), so that a rerun need not wait for its heartbeat
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done' EXIT

tune() {  # one study: WORKERS processes against one storage, the first one in view
    local start=$SECONDS
    pids=()
    echo "=== python tune.py $* (workers: $workers)"
    for ((i = 2; i <= workers; i++)); do  # each its own --seed: its own sampler
        python tune.py "$@" --seed $((seed + i - 1)) > "$out/tune_$1_worker$i.log" 2>&1 &
        pids+=($!)
    done
    python tune.py "$@"
    for pid in "${pids[@]}"; do wait "$pid"; done
    pids=()
    printf 'tune.py %s (workers: %s)\t%s\n' "$1" "$workers" $((SECONDS - start)) >> "$out/times.tsv"
}

tune ae "$@"
step "ae.py --part compare" ae.py --part compare "$@"
step "ae.py --part refit" ae.py --part refit --params "$out/tuned_ae.json" "$@"
tune classifier "$@"
step classify.py classify.py --params "$out/tuned_classifier.json" "$@"
tune vae "$@"
step vae.py vae.py --params "$out/tuned_vae.json" "$@"
step explore.py explore.py "$@"
step "beyond.samples" -m beyond.samples "$@"
python scripts/summary.py --out-dir "$out"
echo "done: $out/summary.md"
(( seeds > 1 )) || exit 0

# ---- --seeds N: the trained steps again, per seed, with the report's tables and tuned values

common=() prev=  # the flags again, less --seed and --out-dir, which each run sets itself
for arg in "$@"; do
    if [[ $prev == --seed || $prev == --out-dir ]]; then prev=; continue; fi
    case $arg in
        --seed|--out-dir) prev=$arg; continue ;;
        --seed=*|--out-dir=*) ;;
        *) common+=("$arg") ;;
    esac
    prev=$arg
done
times="$out/seeds/times.tsv"
# The seed runs of an earlier call go only now that this call's are about to replace them:
# those outside SEED .. SEED+N-1 would mix into seeds.md and go; a whole run (beyond.samples
# writes last) made with the same flags and tuned values is kept, so that a --seeds run
# that was stopped goes on where it stopped.
mkdir -p "$out/seeds"
for dir in "$out"/seeds/{tuned,tables}/seed*; do
    s=${dir##*/seed}
    if [[ -d $dir ]] && { ! [[ $s =~ ^[0-9]+$ ]] || (( s < seed || s >= seed + seeds )); }; then
        rm -rf "$dir"
    fi
done
rm -f "$out/seeds.md" "$out/seeds.json"

same_values() {  # A B: two tuned-value files hold the same values (their times may differ)
    python -c 'import json, sys; sys.exit(len({json.dumps(json.load(open(f))["params"])
                                             for f in sys.argv[1:]}) != 1)' "$@" 2> /dev/null
}

whole() {  # DIR CONFIG: a finished seed run of these flags (and, for "tuned", tuned values)
    [[ -f $1/samples.json && -f $1/flags.txt ]] || return 1
    cmp -s "$1/flags.txt" <(printf '%s\n' ${common[@]+"${common[@]}"}) || return 1
    if [[ $2 == tuned ]]; then
        for f in tuned_ae.json tuned_classifier.json tuned_vae.json; do
            same_values "$1/$f" "$out/$f" || return 1
        done
    fi
}

seed_step() {  # CONFIG SEED DIR SCRIPT ARGS..., timed into DIR/times.tsv
    local config=$1 s=$2 dir=$3 script=$4 start=$SECONDS run=("$4")
    shift 4
    if [[ $script != *.py ]]; then run=(-m "$script"); fi  # a module: beyond.samples
    echo "=== [$config, seed $s] python ${run[*]} $*"
    python "${run[@]}" "$@" ${common[@]+"${common[@]}"} --seed "$s" --out-dir "$dir"
    printf '%s\t%s\t%s\t%s\n' "$config" "$s" "$script" $((SECONDS - start)) >> "$dir/times.tsv"
}

for ((s = seed; s < seed + seeds; s++)); do  # seed by seed, so a stopped run has both configurations
    for config in tuned tables; do
        dir="$out/seeds/$config/seed$s"
        tuned=  # "tuned": the values of OUT/tuned_*.json, copied beside the results
        if [[ $config == tuned ]]; then tuned=1; fi
        if [[ $config == tuned && $s == "$seed" ]]; then  # exactly the sequence above: copy it
            rm -rf "$dir" && mkdir -p "$dir"
            cp "$out"/tuned_{ae,classifier,vae}.json "$out"/{ae.json,ae.pt,classify.json} "$dir/"
            cp "$out"/{vae.json,vae.pt,explore.json,samples.json} "$dir/"
            for script in ae.py classify.py vae.py explore.py beyond.samples; do
                printf '%s\t%s\t%s\t%s\n' "$config" "$s" "$script" reused >> "$dir/times.tsv"
            done
            continue
        fi
        if whole "$dir" "$config"; then
            echo "=== [$config, seed $s] kept: $dir holds a whole run of these flags"
            continue
        fi
        rm -rf "$dir" && mkdir -p "$dir"
        if [[ $tuned ]]; then cp "$out"/tuned_{ae,classifier,vae}.json "$dir/"; fi
        printf '%s\n' ${common[@]+"${common[@]}"} > "$dir/flags.txt"
        seed_step "$config" "$s" "$dir" ae.py --part refit ${tuned:+--params "$dir/tuned_ae.json"}
        seed_step "$config" "$s" "$dir" classify.py --seeds 1 \
            ${tuned:+--params "$dir/tuned_classifier.json"}
        seed_step "$config" "$s" "$dir" vae.py ${tuned:+--params "$dir/tuned_vae.json"}
        seed_step "$config" "$s" "$dir" explore.py
        seed_step "$config" "$s" "$dir" beyond.samples
    done
done
{ printf 'config\tseed\tstep\tseconds\n'; cat "$out"/seeds/{tuned,tables}/seed*/times.tsv; } > "$times"
python scripts/seeds.py --out-dir "$out"
python scripts/summary.py --out-dir "$out" > /dev/null  # again, now that the seed runs exist
echo "done: $out/seeds.md, $out/summary.md"

"""Hyper-parameter tuning with Optuna: section 2.2 of the report (Tables 4, 5, 7, Figure 8).

One study per model, 20 trials (section 2.2), on the fixed 48,000 / 12,000 split, never the
test set. A trial draws its values (suggest_*), trains through the script it tunes, reports
its validation value after every epoch, and is pruned when that is worse than the median of
earlier trials at that epoch (MedianPruner), or when it diverges.

    python tune.py ae               # 20 trials x 10 epochs: 6 min on a 2-core CPU
    python tune.py ae --quick       # 2,000 images, 2 trials of 2 epochs: 9 s
    python tune.py classifier       # needs outputs/ae.pt (python ae.py first): 3 min

Trials live in outputs/optuna.db (--storage): the same command resumes the study, several
workers may run it at once. Writes tuned_<study>.json (for --params), fig08_tuning_<study>.png.
"""
import time
import warnings
from functools import partial
from typing import Callable, NamedTuple

import optuna
import torch
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

import ae
import classify
import vae
from common import load_train_val, make_optimizer
from plumbing.cli import (Parser, add_common_flags, parse_args, path_text, pick_device,
                          positive_int, print_settings, run, seed_everything)
from plumbing.figures import plain_log_axis, pyplot, save_figure
from plumbing.files import fmt, out_dir, save_json
from plumbing.storage import (check_resumed, counts_text, open_storage, storage_error,
                              storage_errors, storage_urls, trial_counts)

QUICK = {"subset": 2000, "epochs": 2, "trials": 2}


# --- Search spaces -----------------------------------------------------------
# Narrower than the notebook's (d 2-1000, dr 0-1) where a part cannot help: d > 64 carries
# no more than the 64 units before h (Table 1), 256 keeps Table 4's 185; dropout also hits
# h. Scales are log-uniform. Every value of Tables 4, 5 and 7 lies inside its range.

def suggest_ae(trial):
    return {
        "d": trial.suggest_int("d", 2, 256, log=True),
        "optimizer": trial.suggest_categorical("optimizer", ["Adam", "SGD"]),
        "lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True),   # SGD needs the large ones
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        # the MSE is of order 0.01 per pixel: an L2 penalty above 1e-2 outweighs it and
        # shrinks the weights to zero; Table 4's 1.04e-5 sat at the notebook's lower edge
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
    }


def suggest_classifier(trial):
    return {
        "no1": trial.suggest_int("no1", 4, 256, log=True),       # Table 5: 12
        "no2": trial.suggest_int("no2", 4, 256, log=True),       # Table 5: 74
        "mlp_optimizer": trial.suggest_categorical("mlp_optimizer", ["Adam", "SGD"]),
        "mlp_lr": trial.suggest_float("mlp_lr", 1e-5, 1e-1, log=True),
        "mlp_dropout": trial.suggest_float("mlp_dropout", 0.0, 0.5),
        "mlp_weight_decay": trial.suggest_float("mlp_weight_decay", 1e-6, 0.2, log=True),
    }


def suggest_vae(trial):
    return {
        "d": trial.suggest_int("d", 2, 256, log=True),           # Table 7: 44
        "lr": trial.suggest_float("lr", 1e-5, 1e-2, log=True),   # Adam only (Table 7)
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True),
    }


# --- Objectives: one trial, from its values to the validation value ----------

def ae_objective(trial, args, data):
    p = suggest_ae(trial)
    seed = start_trial(trial, args, p)
    (x_train, _), (x_val, _) = data
    model = ae.autoencoder(p["d"], p["dropout"]).to(x_train.device)
    optimizer = make_optimizer(p["optimizer"], model.parameters(), p["lr"], p["weight_decay"])
    history = ae.fit(model, optimizer, x_train, x_val, args.epochs, args.batch_size, seed,
                     on_epoch=lambda epoch, val: report(trial, epoch, val["mse"]),
                     name=f"trial {trial.number}")
    prune_if_diverged(trial, history)
    return history["val_mse"][-1]


def classifier_objective(trial, args, data):
    p = suggest_classifier(trial)
    seed = start_trial(trial, args, p)
    (x_train, y_train), (x_val, y_val), ae_ckpt = data  # ae_ckpt: ae.pt, read once
    # A fresh copy of the pretrained encoder in every trial (section 2.3). The report's
    # notebook fine-tuned one encoder across all trials: later ones started from labels.
    model = classify.classifier_from_ae(ae_ckpt, p).to(x_train.device)
    optimizers = classify.make_optimizers(model, ae_ckpt["settings"], p)
    history = classify.fit(model, optimizers, x_train, y_train, args.epochs, args.batch_size,
                           seed, val=(x_val, y_val), name=f"trial {trial.number}",
                           on_epoch=lambda epoch, val: report(trial, epoch, val["accuracy"]))
    prune_if_diverged(trial, history)
    return history["val_accuracy"][-1]


def vae_objective(trial, args, data):
    p = suggest_vae(trial)
    seed = start_trial(trial, args, p)
    (x_train, _), (x_val, _) = data
    model = vae.VAE(p["d"]).to(x_train.device)
    optimizer = make_optimizer("Adam", model.parameters(), p["lr"], p["weight_decay"])
    history = vae.fit(model, optimizer, x_train, x_val, args.epochs, args.batch_size, seed,
                      beta=1.0, name=f"trial {trial.number}",  # the value: -ELBO, nats/image
                      on_epoch=lambda epoch, v: report(trial, epoch, v["recon"] + v["kl"]))
    prune_if_diverged(trial, history)
    return history["val_recon"][-1] + history["val_kl"][-1]


def start_trial(trial, args, params):
    """Print the trial's values; seed its weights and batch order by --seed + its number."""
    print(f"trial {trial.number}:", ", ".join(f"{k} {fmt(v)}" for k, v in params.items()))
    seed_everything(args.seed + trial.number)
    return args.seed + trial.number


def report(trial, epoch, value):
    """Give Optuna the epoch's validation value; prune if worse than the median there."""
    trial.report(value, epoch)
    if trial.should_prune():
        print(f"trial {trial.number} pruned after epoch {epoch}: worse than the median")
        raise optuna.TrialPruned()


def prune_if_diverged(trial, history):
    if history["diverged"] is not None:
        print(f"trial {trial.number} pruned: its loss diverged")
        trial.set_user_attr("diverged", history["diverged"])
        raise optuna.TrialPruned(f"diverged at epoch {history['diverged']}")


class Study(NamedTuple):
    objective: Callable   # objective(trial, args, data) -> the trial's validation value
    direction: str        # "minimize" or "maximize" that value
    metric: str           # what the value is, for tables and Figure 8
    table: dict           # the report's tuned values ...
    table_name: str       # ... and where the report gives them


STUDIES = {
    "ae": Study(ae_objective, "minimize", "validation MSE per pixel", ae.TABLE_4, "Table 4"),
    "classifier": Study(classifier_objective, "maximize", "validation accuracy",
                        classify.TABLE_5, "Table 5"),
    "vae": Study(vae_objective, "minimize", "validation -ELBO (nats per image)", vae.TABLE_7,
                 "Table 7"),
}


# --- The study, made or resumed ----------------------------------------------

def open_study(args, url):
    """Create the study, or resume it if of the same kind, data and epochs. The sampler is
    seeded here, once: --seed plus the trials held already, so that a rerun draws anew."""
    direction = STUDIES[args.study].direction
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # we print one line per trial
    # heartbeats and fail_stale_trials are "experimental" in Optuna (before 4.4, warned as each
    # trial starts): their warnings say nothing to a user
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = open_storage(url, args.storage)  # heartbeats: a killed worker's trial fails
    try:
        held = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(storage, False)}
        seed = (args.seed + held.get(args.study_name, 0)) % 2**32  # numpy's seeds are < 2**32
        study = optuna.create_study(
            storage=storage, study_name=args.study_name, direction=direction,
            load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5,  # first 5 never pruned
                                               n_warmup_steps=2))   # nor any at epoch 1
        check_resumed(study, args.study, direction, args.storage, {
            "subset": args.subset, "epochs": args.epochs, "batch_size": args.batch_size})
        # killed workers' trials: Optuna fails them only before it starts a trial, and a
        # complete study starts none, so they would stay RUNNING for good
        optuna.storages.fail_stale_trials(study)
    except Exception as e:  # a read-only file, a server gone ...
        raise SystemExit(storage_error(args.storage, e))
    return study


def run_trials(study, objective, n_trials, storage):
    """Run trials until the study holds n_trials complete or pruned ones (Optuna's rule, checked
    as each trial ends; a complete study runs none); returns every trial it then holds. Out of
    memory fails only its trial (a smaller model may fit), and failed trials do not count: a
    worker tries at most 2 x --trials. Other errors stop the worker."""
    counted = (TrialState.COMPLETE, TrialState.PRUNED)
    with storage_errors(storage):  # a full disk, a server gone: one line
        if len(study.get_trials(deepcopy=False, states=counted)) < n_trials:
            study.optimize(objective, n_trials=2 * n_trials, catch=(torch.OutOfMemoryError,),
                           callbacks=[MaxTrialsCallback(n_trials, states=counted),
                                      print_trial_end])
        return study.get_trials(deepcopy=False)


def print_trial_end(study, trial):
    """A line as a trial completes or fails (Optuna's own log, tracebacks and all, is off)."""
    if trial.state == TrialState.COMPLETE:
        print(f"trial {trial.number} complete: {trial.value:.5f}")
    elif trial.state == TrialState.FAIL:  # caught: out of memory (catch= in run_trials)
        print(f"trial {trial.number} failed: out of memory; the study goes on")


# --- main(): flags, data, training, results ----------------------------------

def main(argv=None):
    args = parse_args(build_parser(), QUICK, argv)
    out = out_dir(args.out_dir)
    url, args.storage = storage_urls(out, args.storage)  # to open; to print and save
    args.study_name = args.study_name or args.study + ("-quick" if args.quick else "")
    if args.study == "classifier":
        args.checkpoint = args.checkpoint or str(out / "ae.pt")
        ae_ckpt, *_ = ae.load_ae(args.checkpoint)  # fail before reading any data
    print_settings(args)
    device = pick_device(args.device)
    study = open_study(args, url)
    t_start = time.perf_counter()
    data = load_train_val(args.data_dir, device, args.subset)
    data = (*data, ae_ckpt) if args.study == "classifier" else data
    print(f"data: {len(data[0][0])} training / {len(data[1][0])} validation images on "
          f"{device}; study {args.study_name!r} in {args.storage}")
    objective = partial(STUDIES[args.study].objective, args=args, data=data)
    trials = run_trials(study, objective, args.trials, args.storage)
    save_results(study, trials, args, device, time.perf_counter() - t_start, out)


# --- Results and Figure 8 ----------------------------------------------------

def save_results(study, trials, args, device, seconds, out):
    """tuned_<study>.json, then Figure 8, and the tuned values printed beside the report's;
    nothing if no trial completed."""
    counts = trial_counts(trials)
    if not counts["complete"]:
        raise SystemExit(f"error: none of the {len(trials)} trials completed (see above); "
                         "nothing written. Run more trials (--trials)")
    kind, best = STUDIES[args.study], study.best_trial
    save_json(out / f"tuned_{args.study}.json", {
        "study": args.study, "params": best.params, "value": best.value,
        "direction": kind.direction, "trials": counts, "best_trial": best.number,
        "diverged_trials": [t.number for t in trials if "diverged" in t.user_attrs],
        "study_name": args.study_name, "storage": args.storage, "settings": vars(args),
        "device": str(device), "seconds_this_run": seconds})  # this worker's run only
    plot_study(trials, best, counts, args, out / f"fig08_tuning_{args.study}.png")
    print(f"\n{'parameter':18s} {'report (' + kind.table_name + ')':>18s} {'tuned':>12s}")
    for k in kind.table:
        print(f"{k:18s} {fmt(kind.table[k]):>18s} {fmt(best.params[k]):>12s}")
    print(f"best: trial {best.number}, {kind.metric} {best.value:.5f}; trials: "
          + counts_text(counts))
    print(f"done in {seconds:.0f}s on {device}; results in {out}/")


def plot_study(trials, best, counts, args, path):
    """Figure 8: every trial's last validation value (a pruned one's last report), best in red."""
    kind = STUDIES[args.study]
    fig, ax = pyplot().subplots(figsize=(8, 4.8), layout="tight")
    last = {t.number: t.value if t.state == TrialState.COMPLETE
            else t.intermediate_values.get(t.last_step) for t in trials}  # None: no report
    for state, style in (("COMPLETE", {}), ("PRUNED", dict(marker="x", color="gray"))):
        shown = [(t.number, last[t.number]) for t in trials
                 if t.state.name == state and last[t.number] is not None]
        if shown:
            ax.scatter(*zip(*shown), label=state.lower(), **style)
    values = [v for v in last.values() if v is not None]
    if min(values) > 0 and max(values) / min(values) > 10:
        ax.set_yscale("log")  # SGD's and Adam's losses can lie orders of magnitude apart
        plain_log_axis(ax.yaxis)
    ax.scatter([best.number], [best.value], s=120, color="red", zorder=3,
               label=f"best: trial {best.number}, {best.value:.4g}")
    ax.set(xlabel="trial number", ylabel=f"{kind.metric}\nafter the trial's last epoch",
           xlim=(-0.7, max(last) + 0.7), xticks=range(0, max(last) + 1, len(trials) // 10 + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(f"Figure 8: Optuna study '{args.study}', {kind.direction} the {kind.metric}\n"
                 f"{len(trials)} trials ({counts_text(counts)}; {list(last.values()).count(None)} "
                 f"without a value), {args.epochs} epochs each", fontsize=10)
    save_figure(fig, path)


# --- Command line ------------------------------------------------------------

def build_parser():
    parser = Parser(description=__doc__.split("\n\n")[0],
                    epilog="--seed seeds the sampler and, plus a trial's number, its weights and "
                           "batch order: give each worker its own (reproduce.py: --seed + i - 1).")
    parser.add_argument("study", choices=["ae", "classifier", "vae"],
                        help="the AE (Table 4), the classifier's MLP (Table 5), the VAE (Table 7)")
    parser.add_argument("--trials", type=positive_int, default=20,
                        help="complete or pruned trials the study holds, earlier runs' and other "
                             "workers' included (section 2.2); failed ones do not count. Optuna's "
                             "MaxTrialsCallback: W workers may end up to W - 1 past it")
    parser.add_argument("--epochs", type=positive_int, default=10,
                        help="epochs per trial; the report does not say: 10, the classifier's "
                             "(section 3.3); the AE's loss flattens by then (Figure 1)")
    parser.add_argument("--storage", type=path_text, help="Optuna storage URL, e.g. "
                        "postgresql://user:pw@host/db (default: sqlite:///OUT_DIR/optuna.db)")
    parser.add_argument("--study-name", help="the study's name in the storage (default: STUDY, "
                                             "or STUDY-quick with --quick)")
    parser.add_argument("--checkpoint", type=path_text,
                        help="classifier: the AE (default: OUT_DIR/ae.pt)")
    add_common_flags(parser, batch_size=True)
    return parser


if __name__ == "__main__":
    run(main)

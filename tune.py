"""Hyper-parameter tuning with Optuna: section 2.2 of the report (Tables 4, 5 and 7,
Figure 8). One study per model, 20 trials (section 2.2), on the fixed 48,000 / 12,000
split; the test set is never touched here. Every trial trains for --epochs epochs,
reports its validation value after each, and is pruned when it is worse than the median
of earlier trials at that epoch (Optuna's MedianPruner), or when its loss diverges.

    ae          minimise the validation MSE per pixel of the AE of Tables 1, 2 (Table 4)
    classifier  maximise the validation accuracy of Table 3's classifier (Table 5),
                every trial from a fresh copy of the encoder in outputs/ae.pt
    vae         minimise the validation -ELBO (nats per image) of vae.py (Table 7)

    python tune.py ae               # 20 trials x 10 epochs: 6 min on a 2-core CPU
    python tune.py ae --quick       # 2,000 images, 2 trials of 2 epochs: 9 s
    python tune.py classifier       # needs outputs/ae.pt (python ae.py first): 3 min
    python tune.py vae              # 7 min

Trials live in an Optuna storage (default: the SQLite file outputs/optuna.db); the same
command again resumes the study, and several workers may run it at once (run_study).
Writes to outputs/: tuned_<study>.json (read by ae.py, classify.py, vae.py),
fig08_tuning_<study>.png, optuna.db.
"""
import sys
import time
import warnings
from functools import partial

import optuna
import torch
from optuna.trial import TrialState

import ae
import classify
import vae
from common import (Parser, add_common_flags, diverged, load_train_val, make_optimizer,
                    out_dir, parse_args, pick_device, plain_log_axis, positive_int,
                    print_settings, pyplot, run, save_json, seed_everything, write_atomically)

QUICK = {"subset": 2000, "epochs": 2, "trials": 2}


# -----------------------------------------------------------------------------
# Search spaces. The notebook searched d in 2-1000, dr in 0-1, alpha in 1e-5-0.2, lr in
# 1e-5-0.1. We narrow where a part of that range cannot help: d > 64 cannot carry more
# than the 64 units before the code h (Table 1), and 256 keeps Table 4's 185 inside;
# dropout also hits h, and dropping most of it only adds noise. Scales are searched on a
# log scale: 1e-4 and 1e-3 are as far apart as 1e-3 and 1e-2. Every value of Tables 4,
# 5 and 7 lies inside its range.

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


# -----------------------------------------------------------------------------
# Objectives: train with the trial's values, report every epoch, return the last value

def ae_objective(trial, args, data):
    generator = seed_trial(trial, args.seed)
    p = suggest_ae(trial)
    print_params(trial, p)
    (x_train, _), (x_val, _) = data
    model = ae.autoencoder(p["d"], p["dropout"]).to(x_train.device)
    optimizer = make_optimizer(p["optimizer"], model.parameters(), p["lr"], p["weight_decay"])
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        train_mse = ae.train_epoch(model, optimizer, x_train, args.batch_size, generator)
        val_mse = ae.evaluate(model, x_val)
        print(f"trial {trial.number} epoch {epoch}/{args.epochs}: train mse {train_mse:.5f}, "
              f"val mse {val_mse:.5f}, {time.perf_counter() - t0:.1f}s", flush=True)
        report_or_prune(trial, epoch, train_mse, val_mse)
    return val_mse


def classifier_objective(trial, args, data):
    generator = seed_trial(trial, args.seed)
    p = suggest_classifier(trial)
    print_params(trial, p)
    (x_train, y_train), (x_val, y_val) = data
    # A fresh copy of the pretrained encoder in every trial; it keeps the AE's optimiser
    # settings (section 2.3). (The report's notebook fine-tuned one encoder object across
    # all trials, so later trials started from an encoder already trained on labels.)
    encoder, ae_settings = classify.load_encoder(args.checkpoint)
    model = classify.Classifier(encoder, p["no1"], p["no2"], p["mlp_dropout"]).to(x_train.device)
    optimizers = classify.make_classifier_optimizers(model, ae_settings, p)
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        loss = classify.train_epoch(model, optimizers, x_train, y_train, args.batch_size,
                                    generator)
        accuracy = classify.evaluate(model, x_val, y_val)
        print(f"trial {trial.number} epoch {epoch}/{args.epochs}: train loss {loss:.4f}, "
              f"val accuracy {accuracy:.4f}, {time.perf_counter() - t0:.1f}s", flush=True)
        report_or_prune(trial, epoch, loss, accuracy)
    return accuracy


def vae_objective(trial, args, data):
    generator = seed_trial(trial, args.seed)
    p = suggest_vae(trial)
    print_params(trial, p)
    (x_train, _), (x_val, _) = data
    model = vae.VAE(p["d"]).to(x_train.device)
    optimizer = make_optimizer("Adam", model.parameters(), p["lr"], p["weight_decay"])
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        recon, kl = vae.train_epoch(model, optimizer, x_train, args.batch_size, 1.0, generator)
        val_recon, val_kl = vae.evaluate(model, x_val)
        # the value is -ELBO = reconstruction + KL, in nats per image (beta = 1)
        print(f"trial {trial.number} epoch {epoch}/{args.epochs}: train {recon + kl:.2f}, "
              f"val {val_recon + val_kl:.2f} (recon {val_recon:.2f} + kl {val_kl:.2f}) "
              f"nats/image, {time.perf_counter() - t0:.1f}s", flush=True)
        report_or_prune(trial, epoch, recon + kl, val_recon + val_kl)
    return val_recon + val_kl


def report_or_prune(trial, epoch, train_loss, value):
    """Give Optuna the epoch's validation value; end the trial as pruned if its loss
    diverged or the median pruner finds it worse than earlier trials at this epoch."""
    if diverged(train_loss, value):
        trial.set_user_attr("diverged", epoch)
        print(f"trial {trial.number} pruned: its loss became {train_loss} (diverged)")
        raise optuna.TrialPruned(f"diverged at epoch {epoch}")
    trial.report(value, epoch)
    if trial.should_prune():
        print(f"trial {trial.number} pruned after epoch {epoch}: worse than the median "
              "of earlier trials")
        raise optuna.TrialPruned()


def seed_trial(trial, seed):
    """Seed the trial's sampler, initial weights and batch order by its number: one
    worker's study is reproducible, and two workers never draw the same values.
    Returns the generator of the batch order."""
    trial.study.sampler = optuna.samplers.TPESampler(seed=seed + trial.number)
    seed_everything(seed + trial.number)  # initial weights
    return torch.Generator().manual_seed(seed + trial.number)


def print_params(trial, params):
    print(f"trial {trial.number}: " + ", ".join(f"{k} {short(v)}" for k, v in params.items()))


def short(value):
    """A value as printed in logs and Figure 8: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# name: (objective, direction, what the value is, the report's table, its name)
STUDIES = {
    "ae": (ae_objective, "minimize", "validation MSE per pixel", ae.TABLE_4, "Table 4"),
    "classifier": (classifier_objective, "maximize", "validation accuracy",
                   classify.TABLE_5, "Table 5"),
    "vae": (vae_objective, "minimize", "validation loss (-ELBO, nats per image)",
            vae.TABLE_7, "Table 7"),
}


# -----------------------------------------------------------------------------
# The recipe

def main(argv=None):
    args = parse_args(build_parser(), QUICK, argv)
    out = out_dir(args.out_dir)
    url = args.storage or f"sqlite:///{out / 'optuna.db'}"
    args.storage = hide_password(url)  # printed and saved in the JSON
    args.study_name = args.study_name or args.study + ("-quick" if args.quick else "")
    if args.study == "classifier":
        args.checkpoint = args.checkpoint or str(out / "ae.pt")
        classify.load_encoder(args.checkpoint)  # fail before reading any data
    print_settings(args)
    objective, direction, *_ = STUDIES[args.study]
    device = pick_device(args.device)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # we print our own lines
    study = open_study(args, url)
    t_start = time.perf_counter()
    data = load_train_val(args.data_dir, device, args.subset)
    print(f"data: {len(data[0][0])} training / {len(data[1][0])} validation images on "
          f"{device}; study {args.study_name!r} in {args.storage}")
    try:
        counts = run_study(study, partial(objective, args=args, data=data), args.trials)
    except KeyboardInterrupt:  # Optuna has marked the interrupted trial as failed
        print(f"interrupted: the finished trials are kept in {args.storage}; run the same "
              "command to go on", file=sys.stderr)
        sys.exit(130)
    trials = [t for t in study.get_trials(deepcopy=False) if not surplus(t)]
    if not counts["complete"]:
        raise SystemExit(f"error: none of the {len(trials)} trials completed (see above); "
                         "nothing written. Run more trials (--trials)")
    save_results(study, trials, counts, args, device, time.perf_counter() - t_start, out)


# -----------------------------------------------------------------------------
# Results and Figure 8

def save_results(study, trials, counts, args, device, seconds, out):
    """tuned_<study>.json, Figure 8, and the tuned values printed beside the report's."""
    _, direction, metric, table, table_name = STUDIES[args.study]
    best = study.best_trial
    plot_study(trials, best, counts, args, out / f"fig08_tuning_{args.study}.png")
    result = {"study": args.study, "params": best.params, "value": best.value,
              "direction": direction, "trials": counts, "best_trial": best.number,
              "diverged_trials": [t.number for t in trials if "diverged" in t.user_attrs],
              "study_name": args.study_name, "storage": args.storage,
              "settings": vars(args), "device": str(device),
              # this worker's run only: a resumed study's earlier runs are not counted
              "seconds_this_run": seconds}
    save_json(out / f"tuned_{args.study}.json", result)
    print(f"\n{'parameter':18s} {'report (' + table_name + ')':>18s} {'tuned':>12s}")
    for k in table:
        print(f"{k:18s} {short(table[k]):>18s} {short(best.params[k]):>12s}")
    print(f"best: trial {best.number}, {metric} {best.value:.5f}; trials: "
          + ", ".join(f"{n} {k}" for k, n in counts.items()))
    print(f"done in {seconds:.0f}s on {device}; results in {out}/")


def last_value(t):
    """The trial's validation value after its last epoch: its result if complete, the last
    value it reported if pruned; None if it never reported one (diverged, failed)."""
    if t.state == TrialState.COMPLETE:
        return t.value
    if t.intermediate_values:
        return t.intermediate_values[max(t.intermediate_values)]
    return None


def plot_study(trials, best, counts, args, path):
    """Figure 8: the last validation value of every trial, pruned ones marked and the best
    in red; beside it, the tuned values next to the report's table."""
    plt = pyplot()
    _, direction, metric, table, table_name = STUDIES[args.study]
    fig, (ax, ax_table) = plt.subplots(1, 2, figsize=(12, 4.8),
                                       gridspec_kw={"width_ratios": [3, 2]})
    complete = [(t.number, t.value) for t in trials if t.state == TrialState.COMPLETE]
    pruned = [(t.number, v) for t in trials
              if t.state == TrialState.PRUNED and (v := last_value(t)) is not None]
    no_value = [t.number for t in trials if last_value(t) is None]
    ax.scatter(*zip(*complete), color="tab:blue", label="complete")
    if pruned:
        ax.scatter(*zip(*pruned), color="tab:gray", marker="x",
                   label="pruned (its last reported value)")
    values = [v for _, v in complete + pruned]
    if min(values) > 0 and max(values) / min(values) > 10:
        ax.set_yscale("log")  # SGD's and Adam's losses can lie orders of magnitude apart
        plain_log_axis(ax.yaxis)
    if no_value:  # on the top edge of the plot: they have no value to plot
        ax.scatter(no_value, [1.0] * len(no_value), s=60, color="black", marker="^",
                   clip_on=False, transform=ax.get_xaxis_transform(),
                   label="diverged or failed (no value)")
    ax.scatter([best.number], [best.value], s=120, color="red", zorder=3,
               label=f"best: trial {best.number}, {best.value:.4g}")
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"{metric}\nafter the trial's last epoch"
                  + (" (log scale)" if ax.get_yscale() == "log" else ""))
    last = max(t.number for t in trials)
    ax.set_xticks(range(0, last + 1, max(1, len(trials) // 10)))
    ax.set_xlim(-0.7, last + 0.7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    # the tuned values beside the report's table
    ax_table.axis("off")
    rows = [[k, short(table[k]), short(best.params[k])] for k in table]
    cells = ax_table.table(cellText=rows, loc="center", cellLoc="left",
                           colLabels=["parameter", f"report ({table_name})",
                                      f"tuned (trial {best.number})"])
    cells.auto_set_font_size(False)  # the same size whatever the length of the values
    cells.set_fontsize(9)
    cells.scale(1, 1.6)
    fig.suptitle(f"Figure 8: Optuna study '{args.study}', {direction} the {metric}\n"
                 f"{len(trials)} trials ({counts['complete']} complete, {counts['pruned']} "
                 f"pruned, {counts['failed']} failed), {args.epochs} epochs each")
    fig.tight_layout()
    write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


# =============================================================================
# The worker protocol. A student may skip from here: it lets several processes, on one
# machine or several (--storage postgresql://...), run the same study at once and stop
# together at exactly --trials trials.
#
# The simple idiom is study.optimize(objective, callbacks=[optuna.study.MaxTrialsCallback(
# n, states=(TrialState.COMPLETE, TrialState.PRUNED))]): each worker stops once the study
# holds n such trials. But that is checked only when a trial ends, so workers that are
# running trials together all finish theirs and overshoot n, and a killed worker's trial
# stays "running" for ever. So here a trial claims its place first (claim_place),
# heartbeats tell a dead worker's trial from a live one, and failed trials do not count
# (as in MaxTrialsCallback's default), so that a rerun after a crash completes the study.
# =============================================================================

HEARTBEAT_SECONDS = 10  # a running trial writes a heartbeat to the storage this often ...
GRACE_SECONDS = 120     # ... and is failed as stale (its worker died) after this long without


def run_study(study, objective, n_trials):
    """Run trials of `objective` until the study holds n_trials complete or pruned ones,
    counting every worker's; wait for running trials that would reach the total, so that
    every worker ends with the same, complete study. Returns the counts by state."""
    waiting, failed_here = False, []
    while True:
        fail_stale_trials(study)
        c = count_trials(study)
        if c["complete"] + c["pruned"] >= n_trials:
            break
        if c["complete"] + c["pruned"] + c["running"] >= n_trials:
            if not waiting:
                print(f"waiting for {c['running']} running trial(s) to finish: another "
                      "worker's, or a killed worker's, which is failed after "
                      f"{GRACE_SECONDS} s without a heartbeat, then run again", flush=True)
            waiting = True
            time.sleep(2)
            continue
        waiting = False
        # Running out of memory fails this trial only (a smaller model may fit). Any other
        # exception fails its trial and stops this worker: it is a bug, or a GPU error that
        # leaves the process unable to use the device for the trials after it.
        study.optimize(partial(claimed, objective=objective, n_trials=n_trials), n_trials=1,
                       catch=(torch.OutOfMemoryError,), callbacks=[
                           lambda _, t: failed_here.append(t.state == TrialState.FAIL)])
        if sum(failed_here) >= n_trials:  # failed trials do not count: do not loop for ever
            raise SystemExit(f"error: {sum(failed_here)} trials failed in this worker (see "
                             "above); stopping")
    c.pop("running")
    return c


def claimed(trial, objective, n_trials):
    """Run objective(trial) if the study still has room for this trial (claim_place),
    then print its value."""
    claim_place(trial, n_trials)
    value = objective(trial)
    print(f"trial {trial.number} complete: {value:.5f}", flush=True)
    return value


def surplus(t):
    """A trial that found the study full when it started, and was not run."""
    return t.user_attrs.get("surplus", False)


def claim_place(trial, n_trials):
    """Check that the study still has room for this trial; if not, end it as a surplus.

    Two workers can start a trial at the same moment when one place is left. Optuna
    numbers trials in the order they were created, so the rule "a trial runs only if fewer
    than n_trials complete, pruned or running trials were created before it" lets exactly
    one of them run. The other is ended at once as pruned, marked surplus, and is not
    counted anywhere.
    """
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    earlier = [t for t in trial.study.get_trials(deepcopy=False, states=states)
               if t.number < trial.number and not surplus(t)]
    if len(earlier) >= n_trials:
        trial.set_user_attr("surplus", True)
        print(f"trial {trial.number} not run: another worker took the last of the "
              f"{n_trials} trials")
        raise optuna.TrialPruned(f"the study already has its {n_trials} trials")


def count_trials(study):
    """{"complete": n, "pruned": n, "failed": n, "running": n}, surplus trials left out."""
    states = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned",
              TrialState.FAIL: "failed", TrialState.RUNNING: "running"}
    counts = dict.fromkeys(states.values(), 0)
    for t in study.get_trials(deepcopy=False, states=tuple(states)):
        if not surplus(t):
            counts[states[t.state]] += 1
    return counts


def open_study(args, url):
    """Create the study in the storage at `url`, or load it to resume; check that an
    existing one is of the same kind (ae, classifier or vae) and was run with the same
    data and epochs, so that its values compare. (args.storage is the URL to show.)"""
    _, direction, *_ = STUDIES[args.study]
    try:
        study = optuna.create_study(storage=connect(url), study_name=args.study_name,
                                    direction=direction, load_if_exists=True,
                                    pruner=optuna.pruners.MedianPruner(
                                        n_startup_trials=5,  # first 5 trials are never pruned
                                        n_warmup_steps=2))   # nor any trial at epoch 1
    except ImportError as e:  # Optuna hides the missing module in the exception's cause
        raise SystemExit(f"error: --storage {args.storage} needs a database driver "
                         f"({e.__cause__ or e}); for postgresql:// URLs: "
                         "pip install 'psycopg[binary]'")
    except Exception as e:  # a bad URL, an unreachable server, a wrong password ...
        first = str(e).strip().splitlines()[0][:200]
        raise SystemExit(f"error: cannot open the storage {args.storage} ({first})")
    kind = study.user_attrs.get("study")  # None: a new study, or one older than this check
    if kind is None and study.direction.name.lower() != direction:
        kind = "classifier" if direction == "minimize" else "ae or vae"
    if kind is not None and kind != args.study:
        raise SystemExit(f"error: the study {args.study_name!r} in {args.storage} holds "
                         f"trials of tune.py {kind}, not of tune.py {args.study}; choose "
                         "another --study-name")
    study.set_user_attr("study", args.study)
    fixed = {"subset": args.subset, "epochs": args.epochs, "batch_size": args.batch_size}
    before = study.user_attrs.get("settings")
    if before is None:
        study.set_user_attr("settings", fixed)
    elif before != fixed:
        raise SystemExit(f"error: the study {args.study_name!r} in {args.storage} was run "
                         f"with {before}, not {fixed}; use the same flags, another "
                         "--study-name, or another --storage")
    return study


def connect(url):
    """The storage at `url`, with heartbeats: they let other workers tell a trial whose
    worker was killed (failed after GRACE_SECONDS) from one that is still running."""
    for attempt in range(3):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS,
                                                  grace_period=GRACE_SECONDS)
        except ImportError:
            raise
        except Exception:
            # Two workers that start together on a new database both create its tables;
            # the one that loses that race gets an error and finds them on a second try.
            if attempt == 2:
                raise
            time.sleep(1 + attempt)


def hide_password(url):
    """The URL as it may be printed and saved: postgresql://user:***@host/db."""
    import sqlalchemy
    try:
        return sqlalchemy.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:  # not a URL at all: Optuna will say so
        return url


def fail_stale_trials(study):
    """Mark trials whose worker stopped sending heartbeats (it was killed) as failed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


# -----------------------------------------------------------------------------
# Command line

def build_parser():
    parser = Parser(description=__doc__.split("\n\n")[0],
                    epilog="search spaces: suggest_ae, suggest_classifier, suggest_vae in tune.py")
    parser.add_argument("study", choices=["ae", "classifier", "vae"],
                        help="which model to tune: the AE (Table 4), the classifier's MLP "
                             "(Table 5) or the VAE (Table 7)")
    parser.add_argument("--trials", type=positive_int, default=20,
                        help="complete or pruned trials the study should reach, counting "
                             "those of earlier runs and other workers; failed trials do not count, "
                             "so a rerun after a crash completes the study (section 2.2: 20)")
    parser.add_argument("--epochs", type=positive_int, default=10,
                        help="epochs per trial; the report does not state it. 10 is the "
                             "classifier's training length (section 3.3), and the AE's loss "
                             "flattens after a few epochs (Figure 1)")
    parser.add_argument("--batch-size", type=positive_int, default=256, help="section 2.1: n = 256")
    parser.add_argument("--storage", default=None,
                        help="Optuna storage URL, e.g. postgresql://user:pw@host/db for workers "
                             "on several machines (default: sqlite:///OUT_DIR/optuna.db)")
    parser.add_argument("--study-name", default=None,
                        help="name of the study in the storage (default: the study argument, "
                             "with '-quick' appended under --quick)")
    parser.add_argument("--checkpoint", default=None,
                        help="classifier only: the pretrained autoencoder (default: "
                             "OUT_DIR/ae.pt, from `python ae.py`)")
    add_common_flags(parser)
    return parser


if __name__ == "__main__":
    run(main)

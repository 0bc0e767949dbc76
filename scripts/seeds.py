"""Write OUT/seeds.md and OUT/seeds.json: every trained number as mean +- sd over seeds, with
the report's tables and with the tuned values side by side, and a verdict on each of the
report's three latent-space claims, decided by a rule written below (not by hand).

Run last by `python scripts/reproduce.py --seeds N` (N > 1), which trains ae.py --part refit,
classify.py, vae.py and explore.py once per seed into OUT/seeds/CONFIG/seedS/, CONFIG being
"tables" (the report's Tables 4, 5 and 7) or "tuned" (tune.py's values). On its own:

    python scripts/seeds.py [--out-dir DIR]

It only reads those JSON files and OUT/times.tsv, OUT/seeds/times.tsv. `markdown(out)`
returns the text of seeds.md (or "" when OUT/seeds/ does not exist), for summary.py.

The spread is the sample standard deviation over training seeds (ddof = 1): the seed moves
the initial weights, the batch order, explore.py's subsamples, beyond/samples.py's samplers
and its judge, never the split.
"""
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from plumbing.cli import Parser, path_text, run
from plumbing.files import fingerprint, not_a_number, read_json, save_json, save_text

RERUN = "rerun `python scripts/reproduce.py --seeds N`"

CONFIGS = {"tables": "report's tables", "tuned": "tuned values"}
CHANCE = 0.1  # 10-NN accuracy of guessing among Fashion-MNIST's 10 classes
EVEN = 0.1    # smoothness of a perfectly even walk of 10 steps
# the rows of sample quality (samples.json["rows"], keys of beyond/samples.py's ROWS) that
# claim (3) compares
SAMPLERS = {"box": ("ae_box", "AE, min-max box"), "mixture": ("ae_mixture", "AE, mixture of 10"),
            "vae": ("vae_prior", "VAE, N(0, I)")}

# (key, label, file, path into its JSON, format); a path that starts with "-" is negated,
# "classify" is the test accuracy of the run with the folder's seed
METRICS = [
    ("ae_d", "AE: code size d", "ae.json", "refit.params.d", "{:.0f}"),
    ("ae_val_mse", "AE refit: validation MSE", "ae.json", "refit.val_mse.-1", "{:.5f}"),
    ("pca_val_mse", "PCA, as many components: validation MSE", "ae.json",
     "refit.pca_val_mse", "{:.5f}"),
    ("pca64_val_mse", "PCA, 64 components (when d > 64): validation MSE", "ae.json",
     "refit.pca_bottleneck_val_mse", "{:.5f}"),
    ("vae_d", "VAE: code size d", "vae.json", "params.d", "{:.0f}"),
    ("vae_neg_elbo", "VAE: test -ELBO (nats)", "vae.json", "test.neg_elbo", "{:.1f}"),
    ("vae_iw_bound", "VAE: test -log p(x) <= (IW bound, nats)", "vae.json",
     "-test.iw_log_px", "{:.1f}"),
    ("accuracy", "classifier: test accuracy (%)", "classify.json", "classify", "{:.2f}"),
    ("knn_raw", "10-NN accuracy: raw pixels", "explore.json", "knn.raw pixels", "{:.3f}"),
    ("knn_ae", "10-NN accuracy: AE latent", "explore.json", "knn.AE.latent", "{:.3f}"),
    ("knn_vae", "10-NN accuracy: VAE latent", "explore.json", "knn.VAE.latent", "{:.3f}"),
    ("knn_ae_pca", "10-NN accuracy: AE, PCA 2-D", "explore.json", "knn.AE.PCA 2-D", "{:.3f}"),
    ("knn_vae_pca", "10-NN accuracy: VAE, PCA 2-D", "explore.json", "knn.VAE.PCA 2-D", "{:.3f}"),
    ("knn_ae_tsne", "10-NN accuracy: AE, t-SNE 2-D (its subsample)", "explore.json",
     "knn.AE.t-SNE 2-D (its subsample)", "{:.3f}"),
    ("knn_vae_tsne", "10-NN accuracy: VAE, t-SNE 2-D (its subsample)", "explore.json",
     "knn.VAE.t-SNE 2-D (its subsample)", "{:.3f}"),
    ("smooth_ae", "smoothness, AE (0.100 = even; lower = smoother)", "explore.json",
     "smoothness.AE.mean", "{:.3f}"),
    ("smooth_vae", "smoothness, VAE (0.100 = even; lower = smoother)", "explore.json",
     "smoothness.VAE.mean", "{:.3f}"),
] + [
    (f"fd_{key}", f"samples, Fréchet distance (lower = closer): {label}", "samples.json",
     f"rows.{row}.fd", "{:.1f}") for key, (row, label) in SAMPLERS.items()
] + [
    (f"sure_{key}", f"samples, share judged ≥ 0.9: {label}", "samples.json",
     f"rows.{row}.confident_share", "{:.3f}") for key, (row, label) in SAMPLERS.items()
]
OPTIONAL = {"pca64_val_mse"}
STEPS = ["refit_ae", "classify", "vae", "explore", "samples"]  # reproduce.py's SEED_RUN
STEP_FILES = ["ae.json", "classify.json", "vae.json", "explore.json",  # what each step writes
              "samples.json"]


# -----------------------------------------------------------------------------
# Reading the seed folders

def lookup(data, path, where, optional=False):
    """data["a"]["b"][-1] for the path "a.b.-1" (negated if it starts with "-"). An optional
    number may be absent (PCA with 64 components exists only when d > 64): then None."""
    negate = path.startswith("-")
    keys = path.lstrip("-").split(".")
    value = data
    for i, key in enumerate(keys):
        if isinstance(value, list):
            try:
                value = value[int(key)]
            except (ValueError, IndexError):
                raise SystemExit(f"error: {where} has no {path.lstrip('-')}")
        elif isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, dict) and optional and i == len(keys) - 1:
            return None
        else:
            raise SystemExit(f"error: {where} has no {path.lstrip('-')}")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SystemExit(not_a_number(where, path.lstrip("-"), value, RERUN))
    return -float(value) if negate else float(value)


def classifier_accuracy(data, seed, where):
    """Test accuracy (%) of the run trained with `seed` (classify.py --seeds 1 makes one run;
    the sequence's own classify.json holds one per seed, SEED first)."""
    runs = lookup_list(data, where)
    for i, run in enumerate(runs):
        if isinstance(run, dict) and run.get("seed") == seed:
            accuracy = run.get("accuracy")
            if isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool):
                return 100 * float(accuracy)
            raise SystemExit(not_a_number(where, f"table6.table5.runs.{i}.accuracy", accuracy,
                                          RERUN))
    raise SystemExit(f"error: {where} has no classifier run with seed {seed}")


def lookup_list(data, where):
    try:
        runs = data["table6"]["table5"]["runs"]
    except (KeyError, TypeError):
        raise SystemExit(f"error: {where} has no table6.table5.runs")
    if not isinstance(runs, list):
        raise SystemExit(f"error: {where}: table6.table5.runs is not a list")
    return runs


def seed_folders(out, config):
    """{seed: folder} of OUT/seeds/CONFIG/seed*/, by seed."""
    folders = {}
    for folder in (out / "seeds" / config).glob("seed*"):
        try:
            folders[int(folder.name[len("seed"):])] = folder
        except ValueError:
            continue
    return dict(sorted(folders.items()))


def incomplete(folder):
    """Why a seed folder is not a whole seed run (one stopped part-way), or None. Its
    results files are written one script after the other, samples.json last; a results
    entry that records a checkpoint must describe the one beside it."""
    missing = [name for name in STEP_FILES if not (folder / name).exists()]
    if missing:
        return f"no {', '.join(missing)}"
    for name, entry, checkpoint in (("ae.json", "refit", "ae.pt"), ("vae.json", None, "vae.pt")):
        data = read_json(folder / name, RERUN)
        recorded = (data.get(entry, {}) if entry else data).get("checkpoint")
        if recorded is not None and (not (folder / checkpoint).exists()
                                     or fingerprint(folder / checkpoint) != recorded):
            return f"{name} describes another {checkpoint}"
    return None


def read_config(out, config):
    """{"seeds": [...], "values": {key: [value per seed, None where absent]},
    "incomplete": {seed: why}}: the seeds whose runs are whole, and those left out."""
    folders, left_out = {}, {}
    for seed, folder in seed_folders(out, config).items():
        why = incomplete(folder)
        if why:
            left_out[seed] = why
        else:
            folders[seed] = folder
    values = {key: [] for key, *_ in METRICS}
    for seed, folder in folders.items():
        files = {}
        for key, _, name, path, _ in METRICS:
            if name not in files:
                files[name] = read_json(folder / name, RERUN)
            where = folder / name
            if path == "classify":
                values[key].append(classifier_accuracy(files[name], seed, where))
            else:
                values[key].append(lookup(files[name], path, where, key in OPTIONAL))
    return {"seeds": list(folders), "values": values, "incomplete": left_out}


# -----------------------------------------------------------------------------
# Statistics and the verdict rules

def spread(values):
    """(mean, sample sd, n) of the values that are present; sd is None for one value. A NaN
    (a run that diverged, a distance that could not be computed) makes both nan: shown as
    such, and a verdict that needs it is undecided."""
    present = [v for v in values if v is not None]
    if not present:
        return None, None, 0
    if any(math.isnan(v) for v in present):
        return math.nan, math.nan if len(present) > 1 else None, len(present)
    sd = statistics.stdev(present) if len(present) > 1 else None
    return statistics.fmean(present), sd, len(present)


def compare(a, b):
    """'higher', 'lower' or 'tie': is a's mean above b's by more than their two spreads
    together (sd_a + sd_b)? 'one seed' when a spread is unknown, 'nan' when a number is."""
    mean_a, sd_a, _ = spread(a)
    mean_b, sd_b, _ = spread(b)
    if any(mean is not None and math.isnan(mean) for mean in (mean_a, mean_b)):
        return "nan"
    if sd_a is None or sd_b is None:
        return "one seed"
    if abs(mean_a - mean_b) <= sd_a + sd_b:
        return "tie"
    return "higher" if mean_a > mean_b else "lower"


def fmt_spread(values, form):
    mean, sd, n = spread(values)
    if n == 0:
        return "—"
    if math.isnan(mean):
        return f"nan (a seed's number is nan; {n} seed{'s' if n > 1 else ''})"
    if sd is None:
        return f"{form.format(mean)} (1 seed)"
    if sd == 0:
        return f"{form.format(mean)} (all {n} seeds)"
    return f"{form.format(mean)} ± {form.format(sd)} ({n} seeds)"


def separation_verdict(configs):
    """Claim (1), "classes separate in the latent space", as 10-NN class accuracy.

    Rule: in each configuration, for the AE and the VAE, the latent accuracy is compared with
    the raw pixels' by compare() (means apart by more than the two spreads). The claim holds
    if no latent space is 'lower' than the pixels in either configuration (the encoder keeps
    the class structure the images have) and every latent mean is over 5 x chance (0.5); it
    depends if that is true in one configuration only, and fails if in neither.
    """
    outcome, details = {}, []
    for config, data in configs.items():
        v = data["values"]
        results = {model: compare(v[key], v["knn_raw"])
                   for model, key in (("AE", "knn_ae"), ("VAE", "knn_vae"))}
        above_chance = all(spread(v[key])[0] > 5 * CHANCE for key in ("knn_ae", "knn_vae"))
        outcome[config] = ("nan" if "nan" in results.values() else
                           "one seed" if "one seed" in results.values() else
                           "holds" if above_chance and "lower" not in results.values()
                           else "fails")
        details.append(f"{CONFIGS[config]}: AE {spread(v['knn_ae'])[0]:.3f} "
                       f"({word(results['AE'])}), VAE {spread(v['knn_vae'])[0]:.3f} "
                       f"({word(results['VAE'])}) against raw pixels "
                       f"{spread(v['knn_raw'])[0]:.3f}")
    states = set(outcome.values())
    if why := undecided(states):
        verdict, lead = "undecided", ("Classes separate in the latent space: undecided, "
                                      f"since {why}")
    elif states == {"holds"}:
        verdict, lead = "holds", ("Classes separate in the latent space: holds in both "
                                  "configurations and across the seeds, at least as well as in the "
                                  "raw pixels and far above chance (0.10)")
    elif states == {"fails"}:
        verdict, lead = "fails", ("Classes separate in the latent space: does not hold, "
                                  "in both configurations a latent space separates them "
                                  "less than the raw pixels do, or under 5 x chance")
    else:
        held = [CONFIGS[c] for c, s in outcome.items() if s == "holds"]
        verdict, lead = "depends", ("Classes separate in the latent space: depends on the "
                                    f"configuration, it holds only with the {held[0]}")
    return {"rule": rule_text(separation_verdict),
            "per_config": outcome, "verdict": verdict,
            "sentence": f"{lead} (10-NN accuracy, {'; '.join(details)})."}


def smoothness_verdict(configs):
    """Claim (2), "the VAE's latent space is smooth, the AE's changes abruptly", as the
    largest single step of a decoded walk as a fraction of the whole walk (lower = smoother).

    Rule: in each configuration, compare(AE, VAE): the sign of AE - VAE counts only if the
    means differ by more than the two spreads together. The claim holds if the AE is
    'higher' (the VAE smoother) in both configurations, is contradicted if the AE is 'lower'
    in both, and depends on the configuration or the seed otherwise.
    """
    outcome, details = {}, []
    for config, data in configs.items():
        v = data["values"]
        outcome[config] = compare(v["smooth_ae"], v["smooth_vae"])
        ae, vae = spread(v["smooth_ae"])[0], spread(v["smooth_vae"])[0]
        details.append(f"{CONFIGS[config]}: AE {ae:.3f}, VAE {vae:.3f}, "
                       + ("no comparison" if outcome[config] == "nan" else
                          f"{'AE smoother' if ae < vae else 'VAE smoother'}"
                          + ("" if outcome[config] in ("higher", "lower")
                             else " within the spread")))
    states = set(outcome.values())
    claim = "The VAE's latent space is smooth and the AE's changes abruptly"
    if why := undecided(states):
        verdict, lead = "undecided", f"{claim}: undecided, since {why}"
    elif states == {"higher"}:
        verdict, lead = "holds", (f"{claim}: holds, the VAE's walks are more even than the "
                                  "AE's in both configurations, by more than the seed spread")
    elif states == {"lower"}:
        verdict, lead = "contradicted", (f"{claim}: does not hold, the AE's walks are the more "
                                         "even ones in both configurations, by more than the "
                                         "seed spread")
    else:
        verdict, lead = "depends", (f"{claim}: depends on the configuration and the seed, the "
                                    "difference is not larger than the seed spread in both "
                                    "configurations with the same sign")
    return {"rule": rule_text(smoothness_verdict),
            "per_config": outcome, "verdict": verdict,
            "sentence": f"{lead} ({'; '.join(details)}; 0.100 = perfectly even)."}


def sample_verdict(configs):
    """Claim (3), "the VAE's samples are better than the AE's", against the notebook's AE
    sampler (uniform in the min-max box of the codes), by the judge of beyond/judge.py.

    Rule: in each configuration, the VAE's samples are compared with the box's on the
    Frechet distance (lower is better) and on the share of samples the judge gives >= 0.9
    (higher is better), each by compare(). The claim holds if the VAE is better on both
    numbers beyond the spreads in both configurations, and is contradicted if it is worse on
    both in both; otherwise it holds in every run, not beyond the spread, if the VAE is
    better on both numbers in every seed run of both configurations, and depends on the
    configuration and the seed if not. The mixture sampler beats the VAE by the same test.
    """
    def better(a, b, v):  # are a's samples beyond b's on both numbers, by compare()?
        closer = compare(v[f"fd_{a}"], v[f"fd_{b}"])
        surer = compare(v[f"sure_{a}"], v[f"sure_{b}"])
        return ("nan" if "nan" in (closer, surer) else
                "one seed" if "one seed" in (closer, surer) else
                "better" if (closer, surer) == ("lower", "higher") else
                "worse" if (closer, surer) == ("higher", "lower") else "within the spread")

    outcome, mixture, details, runs, wins = {}, {}, [], 0, 0
    for config, data in configs.items():
        v = data["values"]
        outcome[config], mixture[config] = better("vae", "box", v), better("mixture", "vae", v)
        for fd_v, fd_b, sure_v, sure_b in zip(v["fd_vae"], v["fd_box"], v["sure_vae"],
                                              v["sure_box"]):
            runs += 1
            wins += fd_v < fd_b and sure_v > sure_b
        mean = {key: spread(v[key])[0] for key in v}
        details.append(
            f"{CONFIGS[config]}: Fréchet distance VAE {mean['fd_vae']:.1f}, box "
            f"{mean['fd_box']:.1f}, mixture {mean['fd_mixture']:.1f}; share ≥ 0.9 VAE "
            f"{mean['sure_vae']:.3f}, box {mean['sure_box']:.3f}, mixture "
            f"{mean['sure_mixture']:.3f}; VAE against box: {outcome[config]}")
    states = set(outcome.values())
    claim = "The VAE's samples are better than the AE's (the notebook's min-max box)"
    if why := undecided(states):
        verdict, lead = "undecided", f"{claim}: undecided, since {why}"
    elif states == {"better"}:
        verdict, lead = "holds", (f"{claim}: holds, the VAE's samples are closer to the test "
                                  "images and more often recognised, beyond the seed spread "
                                  "in both configurations")
    elif states == {"worse"}:
        verdict, lead = "contradicted", (f"{claim}: does not hold, the box's samples are the "
                                         "closer and more often recognised ones in both "
                                         "configurations, beyond the seed spread")
    elif wins == runs:
        verdict, lead = "holds in every run", (
            f"{claim}: holds in every seed run ({wins} of {runs}: closer and more often "
            "recognised), but not beyond the seed spread in both configurations")
    else:
        verdict, lead = "depends", (f"{claim}: depends on the configuration and the seed, "
                                    f"the VAE wins on both numbers in {wins} of {runs} runs")
    if set(mixture.values()) == {"better"}:
        lead += (", and an AE sampled from a mixture of 10 Gaussians fitted to its codes "
                 "beats the VAE beyond the spread in both configurations")
    else:
        lead += (", and the AE's mixture sampler does not beat the VAE beyond the spread in "
                 "both configurations")
    return {"rule": rule_text(sample_verdict), "per_config": outcome,
            "mixture_beats_vae": mixture, "runs_won": [wins, runs], "verdict": verdict,
            "sentence": f"{lead} ({'; '.join(details)})."}


def undecided(states):
    """Why no verdict can be given, or None: a nan among its numbers, or a single seed."""
    if "nan" in states:
        return "a seed's number is nan (see the table)"
    if "one seed" in states:
        return "one seed gives no spread"
    return None


def rule_text(verdict_function):
    """The paragraph of a verdict function's docstring that starts with "Rule:", on one line,
    without that word: the rule is written once, where it is applied."""
    paragraph = verdict_function.__doc__.split("\n\n")[1]
    return " ".join(paragraph.split())[len("Rule: "):]


def word(result):
    return {"higher": "above", "lower": "below", "tie": "level within the spread",
            "one seed": "one seed", "nan": "nan"}[result]


# -----------------------------------------------------------------------------
# Times

def read_tsv(path, columns):
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines()[1:]:
        cells = line.split("\t")
        if line and len(cells) != columns:
            raise SystemExit(f"error: {path}: a line has {len(cells)} fields, not {columns}")
        if line:
            rows.append(cells)
    return rows


def seconds(text, where):
    try:
        return float(text)
    except ValueError:
        raise SystemExit(f"error: {where}: {text!r} is not a number of seconds")


def minutes(s):
    return f"{s:.0f} s ({s / 60:.1f} min)"


def times_markdown(out):
    lines = []
    # OUT/times.tsv (scripts/reproduce.py): step, start, end, seconds; then "wall time" rows
    rows = [(step, seconds(s, out / "times.tsv")) for step, _, _, s in read_tsv(out / "times.tsv", 4)]
    sequence = [(step, s) for step, s in rows if not step.startswith("wall time")]
    walls = dict((step, s) for step, s in rows if step.startswith("wall time"))
    if sequence:
        lines += ["### The sequence (one seed), step by step", "",
                  "| step | time |", "|---|---:|"]
        lines += [f"| {step} | {minutes(s)} |" for step, s in sequence]
        lines += [f"| **the steps one after another** | **{minutes(sum(s for _, s in sequence))}** |"]
        if "wall time" in walls:  # steps side by side (reproduce.py --jobs) take less
            lines += [f"| **wall time** | **{minutes(walls['wall time'])}** |"]
        lines += [""]
    runs = read_tsv(out / "seeds" / "times.tsv", 4)
    if runs:
        where = out / "seeds" / "times.tsv"
        lines += ["### The seed runs, step by step", "",
                  "Seconds of each step, mean over the seeds it ran for (the tuned run at the "
                  "first seed is the sequence above, copied, not trained again).", "",
                  "| step | " + " | ".join(CONFIGS.values()) + " |",
                  "|---|" + "---:|" * len(CONFIGS)]
        grand = 0
        for step in STEPS + ["total per seed"]:
            cells = []
            for config in CONFIGS:
                if step == "total per seed":  # the seeds that ran every step
                    per_seed = {}
                    for c, s, st, t in runs:
                        if c == config and t != "reused":
                            per_seed.setdefault(s, {})[st] = seconds(t, where)
                    done = [sum(steps.values()) for steps in per_seed.values()
                            if set(steps) == set(STEPS)]
                else:
                    done = [seconds(t, where) for c, _, st, t in runs
                            if c == config and st == step and t != "reused"]
                if done:
                    unit = "seed" if step == "total per seed" else "run"
                    cells.append(f"{statistics.fmean(done):.0f} s ({len(done)} {unit}"
                                 f"{'s' if len(done) > 1 else ''})")
                else:
                    cells.append("—")
            lines.append(f"| {step} | " + " | ".join(cells) + " |")
        grand = sum(seconds(t, where) for *_, t in runs if t != "reused")
        whole = walls.get("wall time, seed runs included")
        lines += ["", f"All the seed runs: {minutes(grand)} of steps"
                  + (f"; the whole run, seed runs included, took {minutes(whole)} (wall time)."
                     if whole is not None else "."), ""]
    return lines


# -----------------------------------------------------------------------------
# The two files

def collect(out):
    """The configurations with whole seed runs, the verdicts on them, and the seed folders
    left out as not whole: {config: {seed: why}}."""
    configs = {config: read_config(out, config) for config in CONFIGS}
    left_out = {c: d["incomplete"] for c, d in configs.items() if d["incomplete"]}
    configs = {c: d for c, d in configs.items() if d["seeds"]}
    if not configs:
        raise SystemExit(f"error: {out}/seeds/ holds no whole seed run (tables/seed0/, ...; "
                         f"left out: {left_out or 'none'}); run `python scripts/reproduce.py "
                         "--seeds N`")
    verdicts = {}
    if set(configs) == set(CONFIGS):
        verdicts = {"separation": separation_verdict(configs),
                    "smoothness": smoothness_verdict(configs),
                    "samples": sample_verdict(configs)}
    return configs, verdicts, left_out


def stale_note(out):
    """A line if OUT/tuned_*.json changed since the tuned seed runs copied them."""
    changed = []
    for folder in seed_folders(out, "tuned").values():
        for copy in sorted(folder.glob("tuned_*.json")):
            current = out / copy.name
            if current.exists() and current.read_bytes() != copy.read_bytes():
                changed.append(copy.name)
    if changed:
        return [f"**Stale:** {', '.join(sorted(set(changed)))} in {out} changed after these "
                "seed runs; rerun `python scripts/reproduce.py --seeds N`.", ""]
    return []


def markdown(out: Path) -> str:
    """The text of OUT/seeds.md, or "" if OUT/seeds/ does not exist."""
    out = Path(out)
    if not (out / "seeds").is_dir():
        return ""
    configs, verdicts, left_out = collect(out)
    lines = ["## Seed spreads: the report's tables beside the tuned values", "",
             "Each trained number as mean ± sample standard deviation over training seeds "
             "(weights and batch order; the split never moves). \"report's tables\" trains "
             "with Tables 4, 5 and 7; \"tuned values\" with tune.py's tuned_*.json.", ""]
    lines += stale_note(out)
    for config, seeds in left_out.items():
        for seed, why in seeds.items():
            lines += [f"**Left out:** {out}/seeds/{config}/seed{seed} is not a whole run "
                      f"({why}); `python scripts/reproduce.py --seeds N` redoes it.", ""]
    lines += ["| number | " + " | ".join(CONFIGS[c] for c in configs) + " |",
              "|---|" + "---:|" * len(configs)]
    for key, label, _, _, form in METRICS:
        cells = [fmt_spread(configs[c]["values"][key], form) for c in configs]
        if all(cell == "—" for cell in cells):
            continue
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## Verdicts", ""]
    if verdicts:
        names = ("separation", "smoothness", "samples")
        lines += [f"- {verdicts[name]['sentence']}" for name in names]
        lines += ["", "The rules, in `scripts/seeds.py`:", ""]
        lines += [f"- claim ({i}): {verdicts[name]['rule']}"
                  for i, name in enumerate(names, start=1)]
    else:
        lines.append("No verdict: it needs both configurations, and only "
                     f"{', '.join(CONFIGS[c] for c in configs)} ran.")
    lines += [""]
    times = times_markdown(out)
    if times:
        lines += ["## Time", ""] + times
    return "\n".join(lines).rstrip() + "\n"


def results(out):
    configs, verdicts, left_out = collect(out)
    numbers = {}
    for config, data in configs.items():
        numbers[config] = {"seeds": data["seeds"], "metrics": {}}
        for key, label, name, path, _ in METRICS:
            mean, sd, n = spread(data["values"][key])
            numbers[config]["metrics"][key] = {
                "label": label, "source": f"{name}: {path}", "values": data["values"][key],
                "mean": mean, "sd": sd, "n": n}
    return {"configs": numbers, "verdicts": verdicts, "left_out": left_out,
            "sd": "sample standard deviation over training seeds (ddof = 1)"}


def main(argv=None):
    parser = Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=path_text, default="outputs",
                        help="the folder that reproduce.py --seeds N wrote (default: outputs)")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    if not (out / "seeds").is_dir():
        raise SystemExit(f"error: {out}/seeds/ does not exist; run "
                         "`python scripts/reproduce.py --seeds N` first")
    text = markdown(out)
    data = results(out)
    save_json(out / "seeds.json", data)
    save_text(out / "seeds.md", "# " + text.lstrip("# "))
    print(text, end="")
    print(f"written: {out}/seeds.md, {out}/seeds.json")


if __name__ == "__main__":
    run(main)

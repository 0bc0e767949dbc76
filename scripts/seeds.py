"""Write OUT/seeds.md and OUT/seeds.json: every trained number as mean +- sd over seeds, with
the report's tables and with the tuned values side by side, and a verdict on each of the
report's three latent-space claims, decided by a rule written below (not by hand).

Run last by `python -m scripts.reproduce --seeds N` (N > 1), which trains ae.py --part refit,
classify.py, vae.py and explore.py once per seed into OUT/seeds/CONFIG/seedS/, CONFIG being
"tables" (the report's Tables 4, 5 and 7) or "tuned" (tune.py's values). On its own:

    python -m scripts.seeds [--out-dir DIR]

It only reads those JSON files and OUT/times.tsv, OUT/seeds/times.tsv.

The spread is the sample standard deviation over training seeds (ddof = 1): the seed moves
the initial weights, the batch order, explore.py's subsamples, beyond/samples.py's samplers
and its judge, never the split.
"""
import math
import statistics
from pathlib import Path

from plumbing.cli import Parser, path_text, run
from plumbing.files import fingerprint, not_a_number, read_json, save_json, save_text
from scripts.reproduce import SEED_RUN

RERUN = "rerun `python -m scripts.reproduce --seeds N`"

CONFIGS = {"tables": "report's tables", "tuned": "tuned values"}
CHANCE = 0.1  # 10-NN accuracy of guessing among Fashion-MNIST's 10 classes
# the rows of sample quality (samples.json["rows"], keys of beyond/samples.py's ROWS) that
# claim (3) compares
SAMPLERS = {"box": ("ae_box", "AE, min-max box"), "mixture": ("ae_mixture", "AE, mixture of 10"),
            "vae": ("vae_prior", "VAE, N(0, I)")}

# (key, label, file, path into its JSON, format); "classify" is the test accuracy of the run
# with the folder's seed
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
     "test.iw_log_px", "{:.1f}"),
    ("accuracy", "classifier: test accuracy (%)", "classify.json", "classify", "{:.2f}"),
] + [
    (f"knn_{key}", f"10-NN accuracy: {label}", "explore.json", f"knn.{path}", "{:.3f}")
    for key, label, path in [
        ("raw", "raw pixels", "raw pixels"), ("ae", "AE latent", "AE.latent"),
        ("vae", "VAE latent", "VAE.latent"), ("ae_pca", "AE, PCA 2-D", "AE.PCA 2-D"),
        ("vae_pca", "VAE, PCA 2-D", "VAE.PCA 2-D"),
        ("ae_tsne", "AE, t-SNE 2-D (its subsample)", "AE.t-SNE 2-D (its subsample)"),
        ("vae_tsne", "VAE, t-SNE 2-D (its subsample)", "VAE.t-SNE 2-D (its subsample)")]
] + [
    (f"smooth_{model.lower()}", f"smoothness, {model} (0.100 = even; lower = smoother)",
     "explore.json", f"smoothness.{model}.mean", "{:.3f}") for model in ("AE", "VAE")
] + [
    (f"fd_{key}", f"samples, Fréchet distance (lower = closer): {label}", "samples.json",
     f"rows.{row}.fd", "{:.1f}") for key, (row, label) in SAMPLERS.items()
] + [
    (f"sure_{key}", f"samples, share judged ≥ 0.9: {label}", "samples.json",
     f"rows.{row}.confident_share", "{:.3f}") for key, (row, label) in SAMPLERS.items()
]
NEGATED = {"vae_iw_bound"}    # minus the number in the file: -log p(x), from test.iw_log_px
OPTIONAL = {"pca64_val_mse"}  # may be absent: PCA with 64 components exists only when d > 64
STEPS = [step.name for step in SEED_RUN]  # a seed run's steps, and the results they write
STEP_FILES = [name for step in SEED_RUN for name in step.makes if name.endswith(".json")]


# -----------------------------------------------------------------------------
# The verdicts: the report's three claims, one row each, and the one rule that reads them

# pairs: (a, b, which way is better for a), each compared by compare(); floor: every a's mean
# must be above it; level_holds: a level pair counts as holding. states: a configuration's
# state as seeds.json names it; words: each pair's compare() in the detail (a result without
# a word is told by the way the means lean, "within the spread").
CLAIMS = {
    "separation": dict(
        claim="Classes separate in the latent space",
        pairs=[("knn_ae", "knn_raw", "higher"), ("knn_vae", "knn_raw", "higher")],
        floor=5 * CHANCE, level_holds=True, states={"better": "holds", "worse": "fails"},
        verdicts={"better": ("holds", "holds in both configurations and across the seeds, at "
                             "least as well as in the raw pixels and far above chance (0.10)"),
                  "worse": ("fails", "does not hold, in both configurations a latent space "
                            "separates them less than the raw pixels do, or under 5 x chance"),
                  "mixed": ("depends", "depends on the configuration, it holds only with the "
                            "{held}")},
        words={"higher": "above", "lower": "below", "tie": "level within the spread",
               "one seed": "one seed", "nan": "nan"},
        detail="{config}: AE {knn_ae:.3f} ({vs0}), VAE {knn_vae:.3f} ({vs1}) against raw "
               "pixels {knn_raw:.3f}", details="10-NN accuracy, {}",
        rule="in each configuration, for the AE and the VAE, the latent accuracy is compared with "
             "the raw pixels' by compare() (means apart by more than the two spreads). The claim "
             "holds if no latent space is 'lower' than the pixels in either configuration (the "
             "encoder keeps the class structure the images have) and every latent mean is over 5 "
             "x chance (0.5); it depends if that is true in one configuration only, and fails if "
             "in neither."),
    "smoothness": dict(  # the largest step of a decoded walk, as a fraction of the whole walk
        claim="The VAE's latent space is smooth and the AE's changes abruptly",
        pairs=[("smooth_vae", "smooth_ae", "lower")],
        states={"better": "higher", "worse": "lower", "level": "tie"},  # compare(AE, VAE)
        verdicts={"better": ("holds", "holds, the VAE's walks are more even than the AE's in "
                             "both configurations, by more than the seed spread"),
                  "worse": ("contradicted", "does not hold, the AE's walks are the more even "
                            "ones in both configurations, by more than the seed spread"),
                  "mixed": ("depends", "depends on the configuration and the seed, the "
                            "difference is not larger than the seed spread in both "
                            "configurations with the same sign")},
        words={"lower": "VAE smoother", "higher": "AE smoother", "nan": "no comparison"},
        detail="{config}: AE {smooth_ae:.3f}, VAE {smooth_vae:.3f}, {vs0}",
        details="{}; 0.100 = perfectly even",
        rule="in each configuration, compare(AE, VAE): the sign of AE - VAE counts only if the "
             "means differ by more than the two spreads together. The claim holds if the AE is "
             "'higher' (the VAE smoother) in both configurations, is contradicted if the AE is "
             "'lower' in both, and depends on the configuration or the seed otherwise."),
    "samples": dict(  # against the notebook's sampler, by the judge of beyond/judge.py
        claim="The VAE's samples are better than the AE's (the notebook's min-max box)",
        pairs=[("fd_vae", "fd_box", "lower"), ("sure_vae", "sure_box", "higher")],
        states={"better": "better", "worse": "worse", "level": "within the spread"},
        verdicts={"better": ("holds", "holds, the VAE's samples are closer to the test images "
                             "and more often recognised, beyond the seed spread in both "
                             "configurations"),
                  "worse": ("contradicted", "does not hold, the box's samples are the closer "
                            "and more often recognised ones in both configurations, beyond the "
                            "seed spread"),
                  "every run": ("holds in every run", "holds in every seed run ({wins} of "
                                "{runs}: closer and more often recognised), but not beyond the "
                                "seed spread in both configurations"),
                  "mixed": ("depends", "depends on the configuration and the seed, the VAE "
                            "wins on both numbers in {wins} of {runs} runs")},
        # the AE's mixture sampler against the VAE, by the same rule: (its key in seeds.json,
        # pairs, what the sentence adds if it is better in both configurations, and if not)
        also=("mixture_beats_vae",
              [("fd_mixture", "fd_vae", "lower"), ("sure_mixture", "sure_vae", "higher")],
              ", and an AE sampled from a mixture of 10 Gaussians fitted to its codes beats the "
              "VAE beyond the spread in both configurations", ", and the AE's mixture sampler "
              "does not beat the VAE beyond the spread in both configurations"),
        detail="{config}: Fréchet distance VAE {fd_vae:.1f}, box {fd_box:.1f}, mixture "
               "{fd_mixture:.1f}; share ≥ 0.9 VAE {sure_vae:.3f}, box {sure_box:.3f}, mixture "
               "{sure_mixture:.3f}; VAE against box: {state}", details="{}",
        rule="in each configuration, the VAE's samples are compared with the box's on the Frechet "
             "distance (lower is better) and on the share of samples the judge gives >= 0.9 "
             "(higher is better), each by compare(). The claim holds if the VAE is better on both "
             "numbers beyond the spreads in both configurations, and is contradicted if it is "
             "worse on both in both; otherwise it holds in every run, not beyond the spread, if "
             "the VAE is better on both numbers in every seed run of both configurations, and "
             "depends on the configuration and the seed if not. The mixture sampler beats the VAE "
             "by the same test."),
}


def spread(values):
    """(mean, sample sd, n) of the values that are present; sd is None for one value. A NaN
    (a run that diverged, a distance that could not be computed) makes both nan: shown as
    such, and a verdict that needs it is undecided."""
    present = [v for v in values if v is not None]
    n = len(present)
    if any(math.isnan(v) for v in present):
        return math.nan, math.nan if n > 1 else None, n
    mean = statistics.fmean(present) if n else None
    return mean, statistics.stdev(present) if n > 1 else None, n


def compare(a, b):
    """'higher', 'lower' or 'tie': is a's mean above b's by more than their two spreads
    together (sd_a + sd_b)? 'one seed' when a spread is unknown, 'nan' when a number is."""
    (mean_a, sd_a, _), (mean_b, sd_b, _) = spread(a), spread(b)
    if any(mean is not None and math.isnan(mean) for mean in (mean_a, mean_b)):
        return "nan"
    if sd_a is None or sd_b is None:
        return "one seed"
    if abs(mean_a - mean_b) <= sd_a + sd_b:
        return "tie"
    return "higher" if mean_a > mean_b else "lower"


def state(claim, pairs, v):
    """One configuration: 'better' if a beats b beyond the spreads in every pair, 'worse' if
    b beats a in every pair, else 'level' (with level_holds: 'worse' if b beats a in a pair,
    else 'better'); 'worse' if an a is not above the floor; 'nan' or 'one seed' undecided."""
    results = [compare(v[a], v[b]) for a, b, _ in pairs]
    if "nan" in results or "one seed" in results:
        return "nan" if "nan" in results else "one seed"
    better = [result == way for result, (_, _, way) in zip(results, pairs)]
    worse = [result not in (way, "tie") for result, (_, _, way) in zip(results, pairs)]
    if any(spread(v[a])[0] <= claim.get("floor", -math.inf) for a, _, _ in pairs):
        return "worse"
    if claim.get("level_holds"):
        return "worse" if any(worse) else "better"
    return "better" if all(better) else "worse" if all(worse) else "level"


def verdict(claim, configs):
    """A row of CLAIMS decided on both configurations: its "better" verdict if both are
    better, its "worse" one if both are worse, its "every run" one (if it has one) if a beats b
    in every pair of every seed run, its "mixed" one otherwise; undecided on a nan or one seed."""
    states, per_config, details, wins, runs = {}, {}, [], 0, 0
    for config, data in configs.items():
        v = data["values"]
        states[config] = state(claim, claim["pairs"], v)
        per_config[config] = claim["states"].get(states[config], states[config])
        for i in range(len(data["seeds"])):
            runs += 1
            wins += all(v[a][i] < v[b][i] if way == "lower" else v[a][i] > v[b][i]
                        for a, b, way in claim["pairs"])
        fields = {key: spread(values)[0] for key, values in v.items()}
        for i, (a, b, _) in enumerate(claim["pairs"] if "words" in claim else []):
            words, lean = claim["words"], "higher" if fields[a] > fields[b] else "lower"
            fields[f"vs{i}"] = words.get(compare(v[a], v[b]), f"{words[lean]} within the spread")
        details.append(claim["detail"].format(config=CONFIGS[config], state=per_config[config],
                                              **fields))
    outcomes = set(states.values())
    if "nan" in outcomes:
        name, text = "undecided", "undecided, since a seed's number is nan (see the table)"
    elif "one seed" in outcomes:
        name, text = "undecided", "undecided, since one seed gives no spread"
    elif outcomes in ({"better"}, {"worse"}):
        name, text = claim["verdicts"][outcomes.pop()]
    else:
        name, text = claim["verdicts"]["every run" if wins == runs and "every run" in
                                        claim["verdicts"] else "mixed"]
    held = " and ".join(CONFIGS[c] for c, s in states.items() if s == "better")
    lead = f"{claim['claim']}: {text.format(held=held, wins=wins, runs=runs)}"
    result = {"rule": claim["rule"], "per_config": per_config}
    if "also" in claim:
        key, pairs, beats, does_not = claim["also"]
        also = {c: state(claim, pairs, data["values"]) for c, data in configs.items()}
        result[key] = {c: claim["states"].get(s, s) for c, s in also.items()}
        lead += beats if set(also.values()) == {"better"} else does_not
    if "every run" in claim["verdicts"]:
        result["runs_won"] = [wins, runs]
    sentence = f"{lead} ({claim['details'].format('; '.join(details))})."
    return {**result, "verdict": name, "sentence": sentence}


# -----------------------------------------------------------------------------
# Reading the seed folders

def lookup(data, path, where, optional=False):
    """data["a"]["b"][-1] for the path "a.b.-1", as a float; None if optional and absent."""
    value = data
    for key in path.split("."):
        try:
            value = value[int(key)] if isinstance(value, list) else value[key]
        except (KeyError, IndexError, ValueError, TypeError):
            if optional:
                return None
            raise SystemExit(f"error: {where} has no {path}")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SystemExit(not_a_number(where, path, value, RERUN))
    return float(value)


def classifier_accuracy(data, seed, where):
    """Test accuracy (%) of the run trained with `seed` (classify.py --seeds 1 makes one run;
    the sequence's own classify.json holds one per seed, SEED first)."""
    try:
        i = [run.get("seed") for run in data["table6"]["table5"]["runs"]].index(seed)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise SystemExit(f"error: {where} has no classifier run with seed {seed}")
    return 100 * lookup(data, f"table6.table5.runs.{i}.accuracy", where)


def seed_folders(out, config):
    """{seed: folder} of OUT/seeds/CONFIG/seed<N>/, by seed."""
    folders = (out / "seeds" / config).glob("seed*")
    return dict(sorted((int(f.name[4:]), f) for f in folders if f.name[4:].isdigit()))


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
    seeds, values, left_out = [], {key: [] for key, *_ in METRICS}, {}
    for seed, folder in seed_folders(out, config).items():
        if why := incomplete(folder):
            left_out[seed] = why
            continue
        seeds.append(seed)
        files = {name: read_json(folder / name, RERUN) for name in STEP_FILES}
        for key, _, name, path, _ in METRICS:
            value = (classifier_accuracy(files[name], seed, folder / name) if path == "classify"
                     else lookup(files[name], path, folder / name, key in OPTIONAL))
            values[key].append(-value if key in NEGATED else value)
    return {"seeds": seeds, "values": values, "incomplete": left_out}


# -----------------------------------------------------------------------------
# Times

def read_times(path, columns):
    """The rows of a tab-separated times file after its header, the last cell in seconds (a
    float, or "reused": not trained again); [] if there is no file."""
    if not path.exists():
        return []
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:] if line]
    for cells in rows:
        if len(cells) != columns:
            raise SystemExit(f"error: {path}: a line has {len(cells)} fields, not {columns}")
        try:
            cells[-1] = cells[-1] if cells[-1] == "reused" else float(cells[-1])
        except ValueError:
            raise SystemExit(f"error: {path}: {cells[-1]!r} is not a number of seconds")
    return rows


def minutes(s):
    return f"{s:.0f} s ({s / 60:.1f} min)"


def mean_cell(done, unit):
    n = len(done)
    return f"{statistics.fmean(done):.0f} s ({n} {unit}{'s' if n > 1 else ''})" if n else "—"


def times_markdown(out):
    lines = []
    # OUT/times.tsv (scripts/reproduce.py): step, start, end, seconds; then "wall time" rows
    rows = [(step, s) for step, _, _, s in read_times(out / "times.tsv", 4)]
    sequence = [(step, s) for step, s in rows if not step.startswith("wall time")]
    walls = dict((step, s) for step, s in rows if step.startswith("wall time"))
    if sequence:
        lines += ["### The sequence (one seed), step by step", "", "| step | time |", "|---|---:|"]
        lines += [f"| {step} | {minutes(s)} |" for step, s in sequence]
        lines += [f"| **the steps one after another** | **{minutes(sum(s for _, s in sequence))}** |"]
        if "wall time" in walls:  # steps side by side (reproduce.py --jobs) take less
            lines += [f"| **wall time** | **{minutes(walls['wall time'])}** |"]
        lines += [""]
    # OUT/seeds/times.tsv (reproduce.py --seeds N): config, seed, step, seconds
    runs = read_times(out / "seeds" / "times.tsv", 4)
    if not runs:
        return lines
    took = {config: {} for config in CONFIGS}  # {config: {seed: {step: seconds}}}
    for config, seed, step, s in runs:
        if s != "reused" and config in took:
            took[config].setdefault(seed, {})[step] = s
    lines += ["### The seed runs, step by step", "",
              "Seconds of each step, mean over the seeds it ran for (the tuned run at the first "
              "seed is the sequence above, copied, not trained again).", "",
              "| step | " + " | ".join(CONFIGS.values()) + " |", "|---|" + "---:|" * len(CONFIGS)]
    for step in STEPS:
        cells = [mean_cell([s[step] for s in took[c].values() if step in s], "run") for c in CONFIGS]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    cells = [mean_cell([sum(s.values()) for s in took[c].values() if set(s) == set(STEPS)], "seed")
             for c in CONFIGS]  # the seeds that ran every step
    lines.append("| total per seed | " + " | ".join(cells) + " |")
    grand = sum(s for *_, s in runs if s != "reused")
    whole = walls.get("wall time, seed runs included")
    return lines + ["", f"All the seed runs: {minutes(grand)} of steps" + (
        f"; the whole run, seed runs included, took {minutes(whole)} (wall time)."
        if whole is not None else "."), ""]


# -----------------------------------------------------------------------------
# The two files

def results(out):
    """The text of OUT/seeds.json: each configuration's whole seed runs and every number of
    METRICS over them, the verdicts (they need both configurations), and the seed folders
    left out as not whole: {config: {seed: why}}."""
    configs = {config: read_config(out, config) for config in CONFIGS}
    left_out = {c: d["incomplete"] for c, d in configs.items() if d["incomplete"]}
    configs = {c: d for c, d in configs.items() if d["seeds"]}
    if not configs:
        raise SystemExit(f"error: {out}/seeds/ holds no whole seed run (tables/seed0/, ...; "
                         f"left out: {left_out or 'none'}); run `python -m scripts.reproduce "
                         "--seeds N`")
    numbers = {config: {"seeds": data["seeds"], "metrics": {
        key: {"label": label, "source": f"{name}: {'-' * (key in NEGATED)}{path}",
              "values": data["values"][key], **dict(zip(("mean", "sd", "n"),
                                                        spread(data["values"][key])))}
        for key, label, name, path, _ in METRICS}} for config, data in configs.items()}
    verdicts = {name: verdict(claim, configs) for name, claim in CLAIMS.items()} \
        if set(configs) == set(CONFIGS) else {}
    return {"configs": numbers, "verdicts": verdicts, "left_out": left_out,
            "sd": "sample standard deviation over training seeds (ddof = 1)"}


def stale_note(out):
    """A line if OUT/tuned_*.json changed since the tuned seed runs copied them."""
    changed = {copy.name for folder in seed_folders(out, "tuned").values()
               for copy in folder.glob("tuned_*.json")
               if (out / copy.name).exists() and (out / copy.name).read_bytes() != copy.read_bytes()}
    if changed:
        return [f"**Stale:** {', '.join(sorted(changed))} in {out} changed after these "
                "seed runs; rerun `python -m scripts.reproduce --seeds N`.", ""]
    return []


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


def markdown(out: Path) -> str:
    """The text of OUT/seeds.md, or "" if OUT/seeds/ does not exist."""
    out = Path(out)
    if not (out / "seeds").is_dir():
        return ""
    data = results(out)
    configs, verdicts = data["configs"], data["verdicts"]
    lines = ["## Seed spreads: the report's tables beside the tuned values", "",
             "Each trained number as mean ± sample standard deviation over training seeds "
             "(weights and batch order; the split never moves). \"report's tables\" trains "
             "with Tables 4, 5 and 7; \"tuned values\" with tune.py's tuned_*.json.", ""]
    lines += stale_note(out)
    for config, seeds in data["left_out"].items():
        for seed, why in seeds.items():
            lines += [f"**Left out:** {out}/seeds/{config}/seed{seed} is not a whole run "
                      f"({why}); `python -m scripts.reproduce --seeds N` redoes it.", ""]
    lines += ["| number | " + " | ".join(CONFIGS[c] for c in configs) + " |",
              "|---|" + "---:|" * len(configs)]
    for key, label, _, _, form in METRICS:
        cells = [fmt_spread(configs[c]["metrics"][key]["values"], form) for c in configs]
        if any(cell != "—" for cell in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## Verdicts", ""]
    if verdicts:
        lines += [f"- {verdicts[name]['sentence']}" for name in CLAIMS]
        lines += ["", "The rules, in `scripts/seeds.py`:", ""]
        lines += [f"- claim ({i}): {verdicts[name]['rule']}"
                  for i, name in enumerate(CLAIMS, start=1)]
    else:
        lines.append("No verdict: it needs both configurations, and only "
                     f"{', '.join(CONFIGS[c] for c in configs)} ran.")
    lines += [""]
    times = times_markdown(out)
    if times:
        lines += ["## Time", ""] + times
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    parser = Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=path_text, default="outputs",
                        help="the folder that reproduce.py --seeds N wrote (default: outputs)")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    if not (out / "seeds").is_dir():
        raise SystemExit(f"error: {out}/seeds/ does not exist; run "
                         "`python -m scripts.reproduce --seeds N` first")
    text = markdown(out)
    data = results(out)
    save_json(out / "seeds.json", data)
    save_text(out / "seeds.md", "# " + text.lstrip("# "))
    print(text, end="")
    print(f"written: {out}/seeds.md, {out}/seeds.json")


if __name__ == "__main__":
    run(main)

"""Write OUT/seeds.md and OUT/seeds.json: every trained number as mean +- sd over seeds,
with the report's tables and with the tuned values side by side, a verdict on each of the
report's three latent-space claims by the rule below, and the noise of tuning beside it.

Run last by `python -m scripts.reproduce --seeds N`, which trains each configuration, "tables"
(the report's Tables 4, 5 and 7) or "tuned" (tune.py's values), once per seed S into
OUT/seeds/CONFIG/seedS/, and by `--studies N` (OUT/studies/studyK/: a tuning, then a tuned
seed run at the report's seed). On its own: `python -m scripts.seeds [--out-dir DIR]`.
"""
import math
import statistics
from pathlib import Path

from plumbing.cli import Parser, path_text, run
from plumbing.files import fmt, number, read_json, read_times, reading, save_json, save_text
from scripts.reproduce import SEED_RUN
from scripts.seed_runs import METRICS, NEGATED, RERUN, numbered, read_runs

CONFIGS = {"tables": "report's tables", "tuned": "tuned values"}
CHANCE = 0.1  # 10-NN accuracy of guessing among Fashion-MNIST's 10 classes
SEQUENCE_TIMES = ("step", "start", "end", "seconds")  # the columns of OUT/times.tsv
RUN_TIMES = ("config", "seed", "step", "seconds")  # those of a seed run's times.tsv
STEPS = [step.name for step in SEED_RUN]  # a seed run's steps


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
        # the AE's mixture against the VAE: (key in seeds.json, pairs, sentence if better, if not)
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


# the numbers the claims compare, and the classifier's and the VAE's test numbers
STUDY_KEYS = {key for claim in CLAIMS.values() for a, b, _ in claim["pairs"] + claim.get(
    "also", [0, []])[1] for key in (a, b)} | {"accuracy", "vae_neg_elbo", "vae_iw_bound"}


def spread(values):
    """(mean, sample sd, n) of the values present; sd None for one value. A NaN (a run that
    diverged) makes both nan: shown as such, and a verdict that needs it is undecided."""
    present = [v for v in values if v is not None]
    n = len(present)
    if any(math.isnan(v) for v in present):
        return math.nan, math.nan if n > 1 else None, n
    return (statistics.fmean(present) if n else None,
            statistics.stdev(present) if n > 1 else None, n)


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
    states, details, wins, runs = {}, [], 0, 0
    for config, data in configs.items():
        v, seeds = data["values"], range(len(data["seeds"]))
        states[config] = state(claim, claim["pairs"], v)
        runs += len(seeds)
        wins += sum(all(v[a][i] < v[b][i] if way == "lower" else v[a][i] > v[b][i]
                        for a, b, way in claim["pairs"]) for i in seeds)
        fields = {key: spread(values)[0] for key, values in v.items()}
        for i, (a, b, _) in enumerate(claim["pairs"] if "words" in claim else []):
            words, lean = claim["words"], "higher" if fields[a] > fields[b] else "lower"
            fields[f"vs{i}"] = words.get(compare(v[a], v[b]), f"{words[lean]} within the spread")
        details.append(claim["detail"].format(config=CONFIGS[config], **fields,
                                              state=named(claim, states[config])))
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
    result = {"rule": claim["rule"], "per_config": {c: named(claim, s) for c, s in states.items()}}
    if "also" in claim:
        key, pairs, beats, does_not = claim["also"]
        also = {c: state(claim, pairs, data["values"]) for c, data in configs.items()}
        result[key] = {c: named(claim, s) for c, s in also.items()}
        lead += beats if set(also.values()) == {"better"} else does_not
    if "every run" in claim["verdicts"]:
        result["runs_won"] = [wins, runs]
    sentence = f"{lead} ({claim['details'].format('; '.join(details))})."
    return {**result, "verdict": name, "sentence": sentence}


def named(claim, state):
    """A state as seeds.json names it for this claim ("holds", "higher", "better", ...)."""
    return claim["states"].get(state, state)



# -----------------------------------------------------------------------------
# The noise of tuning: study K tuned again with another sampler seed, then was refit and
# measured at the report's seed as a tuned seed run is: the studies differ by tuning only

def survives(claim, studies, tuned):
    """A claim's state over the studies beside its state over the tuned values' seed runs
    (read_runs(), or None), and a sentence: does the verdict survive another tuning run?"""
    over = [named(claim, state(claim, claim["pairs"], runs["values"])) if runs else None
            for runs in (studies, tuned)]
    survival = ("it is undecided whether the verdict survives" if {"nan", "one seed"} & set(over)
                else "the verdict survives" if over[0] == over[1]
                else "the verdict does not survive")
    sentence = f"{claim['claim']}: {over[0]} over the {len(studies['seeds'])} studies, " + (
        f"{over[1]} over the tuned values' training seeds: {survival} another tuning run."
        if tuned else "and no seed runs of the tuned values to set it beside.")
    return {"studies": over[0], "seeds": over[1], "sentence": sentence}


def studies(out, tuned):
    """seeds.json's "studies" (None without OUT/studies/): the whole ones and those left out;
    with 2 or more, their tuned values, STUDY_KEYS and survives() of each claim."""
    if not (out / "studies").is_dir():
        return None
    with reading(out / "classify.json", RERUN):  # the report's seed: its first classifier run's
        seed = int(number(read_json(out / "classify.json", RERUN), "table6", "table5", "runs",
                          0, "seed"))
    data = read_runs(numbered(out / "studies", "study"), seed)
    result = {"studies": data["seeds"], "seed": seed, "left_out": data["incomplete"]}
    if len(data["seeds"]) < 2:
        return result
    return {**result, "tuned_values": data["tuned_values"],
            "metrics": metrics({key: data["values"][key] for key in STUDY_KEYS}),
            "claims": {name: survives(claim, data, tuned) for name, claim in CLAIMS.items()}}


# -----------------------------------------------------------------------------
# seeds.json: each configuration's numbers over its seeds, the verdicts, the studies

def metrics(values):
    """seeds.json's entry of each number in values: its values, mean, sd and n."""
    return {key: {"label": label, "source": f"{name}: {'-' * (key in NEGATED)}{path}",
                  "values": values[key], **dict(zip(("mean", "sd", "n"), spread(values[key])))}
            for key, label, name, path, _ in METRICS if key in values}


def results(out):
    """The text of OUT/seeds.json: each configuration's whole seed runs and every number of
    METRICS over them, the verdicts (they need both), the seed runs left out, the studies."""
    configs = {config: read_runs(numbered(out / "seeds" / config, "seed")) for config in CONFIGS}
    left_out = {c: d["incomplete"] for c, d in configs.items() if d["incomplete"]}
    configs = {c: d for c, d in configs.items() if d["seeds"]}
    noise = studies(out, configs.get("tuned"))
    if not configs and ((out / "seeds").is_dir() or "claims" not in (noise or {})):
        raise SystemExit(f"error: {out}/seeds/ holds no whole seed run (tables/seed0/, ...; "
                         f"left out: {left_out or 'none'}), nor {out}/studies/ 2 whole studies; "
                         "run `python -m scripts.reproduce --seeds N` (or --studies N)")
    data = {"configs": {c: {"seeds": d["seeds"], "metrics": metrics(d["values"])}
                        for c, d in configs.items()},
            "verdicts": {name: verdict(claim, configs) for name, claim in CLAIMS.items()}
            if set(configs) == set(CONFIGS) else {}, "left_out": left_out,
            "sd": "sample standard deviation over training seeds (ddof = 1)"}
    return {**data, "studies": noise} if noise else data


# -----------------------------------------------------------------------------
# seeds.md, made of seeds.json's numbers

def fmt_spread(values, form, one="seed", many="seeds"):
    """mean ± sd (n seeds) of the values present, "—" if none."""
    mean, sd, n = spread(values)
    count = f"{n} {one if n == 1 else many}"
    if n == 0:
        return "—"
    if math.isnan(mean):
        return f"nan (a {one}'s number is nan; {count})"
    return form.format(mean) + (f" ({count})" if sd is None else f" (all {count})" if sd == 0
                                else f" ± {form.format(sd)} ({count})")


def spread_table(columns, keys=None):
    """| number | column ... |: mean ± sd of each number (of keys) in each column, given as
    {header: (its seeds.json metrics, "study", "studies") or, over seeds, (metrics,)}."""
    lines = ["| number | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for key, label, _, _, form in METRICS:
        cells = [fmt_spread(m[key]["values"] if key in m else [], form, *units)
                 for m, *units in columns.values()]
        if (keys is None or key in keys) and any(cell != "—" for cell in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines + [""]


def minutes(s):
    return f"{s:.0f} s ({s / 60:.1f} min)"


def times_markdown(out):
    """The seed runs' time of each step (each one's times.tsv; summary.md shows the report's):
    the mean over the runs that trained it, and over the seeds that ran every step."""
    took = {c: [{step: s for *_, step, s in read_times(folder / "times.tsv", RUN_TIMES)}
                for folder in numbered(out / "seeds" / c, "seed").values()] for c in CONFIGS}
    rows = {step: [[t[step] for t in took[c] if step in t] for c in CONFIGS] for step in STEPS}
    rows["total per seed"] = [[sum(t.values()) for t in took[c] if set(t) == set(STEPS)]
                              for c in CONFIGS]
    if not any(t for runs in took.values() for t in runs):
        return []
    lines = ["## Time", "", "### The seed runs, step by step", "", "Seconds of each step, mean "
             "over the seeds it ran for (the tuned run at the first seed is the report's own, "
             "copied, not trained again).", "",
             "| step | " + " | ".join(CONFIGS.values()) + " |", "|---|" + "---:|" * len(CONFIGS)]
    for step, cells in rows.items():
        unit = "run" if step in STEPS else "seed"
        lines.append(f"| {step} | " + " | ".join(
            f"{statistics.fmean(c):.0f} s ({len(c)} {unit}{'s' * (len(c) > 1)})" if c else "—"
            for c in cells) + " |")
    steps = sum(s for runs in took.values() for t in runs for s in t.values())
    walls = {step: s for step, *_, s in read_times(out / "times.tsv", SEQUENCE_TIMES)}
    wall = walls.get("wall time, seed runs and studies included")
    return lines + ["", f"All the seed runs: {minutes(steps)} of steps" + (
        f"; the whole run, seed runs and studies included, took {minutes(wall)} (wall time)."
        if wall is not None else "."), ""]


def seeds_markdown(out, data):
    """Both configurations over the seeds, the verdicts."""
    configs, verdicts = data["configs"], data["verdicts"]
    changed = {copy.name for folder in numbered(out / "seeds" / "tuned", "seed").values()
               for copy in folder.glob("tuned_*.json") if (out / copy.name).exists()
               and (out / copy.name).read_bytes() != copy.read_bytes()}
    lines = ["## Seed spreads: the report's tables beside the tuned values", "",
             "Each trained number as mean ± sample standard deviation over training seeds "
             "(weights and batch order; the split never moves). \"report's tables\" trains "
             "with Tables 4, 5 and 7; \"tuned values\" with tune.py's tuned_*.json.", ""]
    if changed:
        lines += [f"**Stale:** {', '.join(sorted(changed))} in {out} changed after these seed "
                  "runs; rerun `python -m scripts.reproduce --seeds N`.", ""]
    lines += [f"**Left out:** {out}/seeds/{config}/seed{seed} is not a whole run ({why}); "
              "`python -m scripts.reproduce --seeds N` redoes it.\n"
              for config, seeds in data["left_out"].items() for seed, why in seeds.items()]
    lines += spread_table({CONFIGS[c]: (configs[c]["metrics"],) for c in configs})
    if not verdicts:
        return lines + ["## Verdicts", "", "No verdict: it needs both configurations, and only "
                        f"{', '.join(CONFIGS[c] for c in configs)} ran.", ""]
    return lines + ["## Verdicts", ""] + [f"- {verdicts[name]['sentence']}" for name in CLAIMS] + [
        "", "The rules, in `scripts/seeds.py`:", ""] + [
        f"- claim ({i}): {verdicts[name]['rule']}" for i, name in enumerate(CLAIMS, start=1)] + [""]


def studies_markdown(out, data):
    """The tuned values of each study, the numbers and the claims over the studies beside
    the tuned values' seed runs."""
    studies = data["studies"]
    lines = ["## Tuning noise against training noise", "",
             "Study 0 is the report's own tuning; each other study tuned again with another "
             "sampler seed, then was refit and measured once at the report's seed "
             f"({studies['seed']}), as a seed run of the tuned values is.", ""]
    lines += [f"**Left out:** {out}/studies/study{n} is not a whole study ({why}); "
              "`python -m scripts.reproduce --studies N` redoes it.\n"
              for n, why in studies["left_out"].items()]
    if "claims" not in studies:
        return lines + ["No table: it needs 2 whole studies.", ""]
    values = studies["tuned_values"]  # [{"ae: d": 46, ...} per study]
    lines += ["| tuned value | " + " | ".join(f"study {n}" for n in studies["studies"]) + " |",
              "|---|" + "---:|" * len(values)]
    lines += [f"| {key} | " + " | ".join(fmt(run.get(key)) for run in values) + " |"
              for key in values[0]] + [""]
    tuned = data["configs"].get("tuned", {}).get("metrics", {})
    lines += spread_table({"tuned values, over training seeds": (tuned,),
                           "over the studies": (studies["metrics"], "study", "studies")},
                          studies["metrics"])
    return lines + [f"- {claim['sentence']}" for claim in studies["claims"].values()] + [""]


def markdown(out, data=None):
    """The text of OUT/seeds.md from results(out) (read here unless given), or "" if there is
    neither OUT/seeds/ nor OUT/studies/."""
    if not ((out / "seeds").is_dir() or (out / "studies").is_dir()):
        return ""
    data = data or results(out)
    lines = seeds_markdown(out, data) if data["configs"] else []
    lines += studies_markdown(out, data) if "studies" in data else []
    return "\n".join(lines + times_markdown(out)).rstrip() + "\n"


def main(argv=None):
    parser = Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=path_text, default="outputs",
                        help="the folder that reproduce.py --seeds N wrote (default: outputs)")
    out = Path(parser.parse_args(argv).out_dir)
    if not ((out / "seeds").is_dir() or (out / "studies").is_dir()):
        raise SystemExit(f"error: neither {out}/seeds/ nor {out}/studies/ exists; run "
                         "`python -m scripts.reproduce --seeds N` (or --studies N) first")
    data = results(out)  # read once: seeds.json and seeds.md
    text = markdown(out, data)
    save_json(out / "seeds.json", data)
    save_text(out / "seeds.md", "# " + text.lstrip("# "))
    print(text, end="")
    print(f"written: {out}/seeds.md, {out}/seeds.json")


if __name__ == "__main__":
    run(main)

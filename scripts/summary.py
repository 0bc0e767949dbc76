"""Write outputs/summary.md: the report's tables beside the numbers this code measured.

Run last by scripts/reproduce.py; on its own: `python -m scripts.summary [--out-dir DIR]`.
It only reads the JSON files the scripts wrote (a missing one leaves its section out).
"""
import sys
from pathlib import Path

from ae import TABLE_4
from beyond.samples import ROWS, MIN_JUDGE_ACCURACY
from classify import REPORT_ACCURACY, REPORT_F1, TABLE_5, recipe_label
from common import CLASSES
from plumbing.cli import Parser, path_text, run
from plumbing.storage import counts_text
from scripts import seeds
from plumbing.files import fingerprint, fmt, number, read_json, read_times, reading, save_text
from scripts.seeds import SEQUENCE_TIMES
from vae import TABLE_7

FIGURES = [  # (the report's figure, file, what it shows)
    ("Figure 1", "fig01_loss_adam_vs_sgd.png", "AE loss per epoch, Adam vs SGD"),
    ("Figure 2", "fig02_reconstruction_bag.png", "a bag reconstructed by the tuned AE"),
    ("Figure 3", "fig03_tsne.png", "t-SNE of the test codes"),
    ("Figure 4", "fig04_ae_samples.png", "random codes decoded (box, Gaussian; VAE)"),
    ("Figure 5a", "fig05a_ae_interpolation.png", "interpolation in the AE's latent space"),
    ("Figure 5b", "fig05b_vae_traversal.png", "traversal of the VAE's latent space"),
    ("Figure 6", "fig06_vae_samples.png", "samples of the VAE"),
    ("Figure 7", "fig07_training_progress.png", "one image across the epochs, Adam vs SGD"),
    ("Figure 8", "fig08_tuning_ae.png", "the AE study (also _classifier, _vae)"),
    ("Figure 9", "fig09_pca.png", "PCA of the test codes"),
    ("Figure 10", "fig10_reconstructions.png", "more reconstructions"),
    ("Figure 11", "fig11_vae_loss.png", "VAE loss per epoch"),
    ("beyond", "fig_confusion_matrix.png", "confusion matrix of the classifier"),
    ("beyond", "fig_label_efficiency.png", "test accuracy against labels (beyond/labels.py)"),
    ("beyond", "fig_samples.png", "every sampler's random codes decoded (beyond/samples.py)"),
    ("beyond", "fig_vae_reconstructions.png", "VAE reconstructions"),
]


def seconds(s):
    return f"{s:.1f}" if s < 10 else f"{s:.0f}"


def tuned_table(out, study, table, name):
    lines = [f"### {name}: tuned values of the {study} study", ""]
    if not (out / f"tuned_{study}.json").exists():
        used_by = {"ae": "ae.json", "classifier": "classify.json", "vae": "vae.json"}[study]
        if not (out / used_by).exists():   # nothing ran that would have used them
            return []
        return lines + [f"Not tuned here (no tuned_{study}.json): the scripts used {name}.", ""]
    return lines + section(out, f"tuned_{study}.json", lambda tuned, out: [
        f"| parameter | report ({name}) | ours (`tune.py {study}`) |", "|---|---:|---:|",
        *[f"| {k} | {fmt(v)} | {fmt(tuned['params'][k])} |" for k, v in table.items()],
        "", f"Best {tuned['direction'][:3]}imised value {number(tuned, 'value'):.5g} "
            f"(trial {tuned['best_trial']}); {counts_text(tuned['trials'])} trials, "
            f"{tuned['settings']['epochs']} epochs each, on {tuned['device']}.", ""])


def main(argv=None):
    parser = Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=path_text, default="outputs",
                        help="the folder the scripts wrote to (default: outputs; "
                             "outputs/quick after a --quick run)")
    out = Path(parser.parse_args(argv).out_dir)
    if not any(out.glob("*.json")):
        raise SystemExit(f"error: no results in {out}/; run `python -m scripts.reproduce` "
                         "(or pass the --out-dir the scripts wrote to)")
    md = ["# The report beside this code", "",
          f"Written by `scripts/summary.py` from the results in `{out}/`.", ""]
    md += section(out, "ae.json", ae_section)
    md += tuned_table(out, "ae", TABLE_4, "Table 4")
    md += tuned_table(out, "classifier", TABLE_5, "Table 5")
    md += section(out, "classify.json", classify_section)
    md += section(out, "labels.json", labels_section)
    md += tuned_table(out, "vae", TABLE_7, "Table 7")
    md += section(out, "vae.json", vae_section)
    md += section(out, "explore.json", explore_section)
    md += section(out, "samples.json", samples_section)
    md += seeds_section(out)
    md += times_section(out)
    md += ["## Figures, by the report's numbering", ""]
    md += [f"- {fig}: [{name}]({name}), {what}" for fig, name, what in FIGURES
           if (out / name).exists()]
    save_text(out / "summary.md", "\n".join(md) + "\n")
    print(f"wrote {out / 'summary.md'}")


def section(out, name, build):
    """build(results, out): the lines made of the results file out/name ([] if there is none);
    what the file lacks or holds in the wrong place is one line that names it and the key."""
    if not (out / name).exists():
        return []
    data = read_json(out / name, "rerun the script that writes it, or move it away")
    with reading(out / name, "rerun the script that writes it"):
        return build(data, out)


def checkpoint_note(entry, path):
    """A line if the results entry does not describe the checkpoint beside it."""
    if entry.get("checkpoint") in (None, fingerprint(path) if path.exists() else None):
        return []
    return [f"**Mismatch:** these numbers describe another {path.name} than the one in "
            "this folder (a run stopped between its two writes, or two runs at once); "
            "rerun the script that writes it.", ""]


def ae_section(ae, out):
    md = ["## The autoencoder (sections 3.1, 3.2)", "",
          "| run | d | epochs | validation MSE, AE | validation MSE, PCA with d components |",
          "|---|---:|---:|---:|---:|"]
    if "compare" in ae:
        s = ae["compare"]["params"]  # section 2.1's values, or those given
        for name in ("Adam", "SGD"):
            h = ae["compare"][name]
            last = (f"{number(ae, 'compare', name, 'val_mse', -1):.5f}" if h["val_mse"] else "—")
            if h["diverged"]:  # the epoch it diverged at, or None
                last += f" (diverged at epoch {h['diverged']})"
            md.append(f"| {name}, lr {s['lr']} (Figure 1) | {s['d']} | {len(h['val_mse'])} | "
                      f"{last} | {number(ae, 'compare', name, 'pca_val_mse'):.5f} |")
    if "refit" in ae:
        r = ae["refit"]
        md.append(f"| refit ({'Table 4' if r['source'] == 'report' else r['source']}) | "
                  f"{r['params']['d']} | {len(r['val_mse'])} | "
                  f"{number(ae, 'refit', 'val_mse', -1):.5f} | "
                  f"{number(ae, 'refit', 'pca_val_mse'):.5f} |")
    md += ["", "The report gives no MSE; its Figure 1 shows Adam far below SGD."]
    if "pca_bottleneck_val_mse" in ae.get("refit", {}):
        md += ["The refit's code passes through 64 units, so it has rank at most 64; PCA with "
               f"64 components: {number(ae, 'refit', 'pca_bottleneck_val_mse'):.5f}."]
    return md + [""] + checkpoint_note(ae.get("refit", {}), out / "ae.pt")


def classify_section(cl, out):
    table6, settings = cl["table6"], cl["table6_run"]["settings"]
    recipes = list(table6)
    n_test = sum(table6[recipes[0]]["support"])
    md = [f"## Table 6: the classifier on {n_test:,} test images (section 3.3)", "",
          "| class | F1 CL, report | "
          + " | ".join(f"F1, {recipe_label(r, table6[r]['source'])}" for r in recipes)
          + " |", "|---|---:|" + "---:|" * len(recipes)]
    for c, name in enumerate(CLASSES):
        md.append(f"| {name} | {REPORT_F1[c]:.2f} | " + " | ".join(
            f"{100 * number(cl, 'table6', r, 'mean_metrics', 'f1', c):.2f}" for r in recipes)
            + " |")
    md.append(f"| **accuracy** | **{REPORT_ACCURACY:.2f}** | " + " | ".join(
        f"**{100 * number(cl, 'table6', r, 'accuracy_mean'):.2f} ± "
        f"{100 * number(cl, 'table6', r, 'accuracy_std'):.2f}**" for r in recipes) + " |")
    md.append("| training time (s) | 61 (a GPU) | " + " | ".join(
        f"{seconds(number(cl, 'table6', r, 'seconds_mean'))} ({cl['table6_run']['device']})"
        for r in recipes) + " |")
    return md + ["", f"Ours: mean (± standard deviation) over {len(table6[recipes[0]]['runs'])}"
                     f" seed(s), {settings['epochs']} epochs on "
                     + (f"a subset (--subset {settings['subset']})" if settings["subset"]
                        else "all 60,000 training images")
                     + ", tested once.", ""]


def labels_section(part, out):
    ways = list(part["accuracy"])
    counts = list(part["accuracy"][ways[0]])
    md = [f"## Beyond the report: test accuracy against labels ({part['label']})", "",
          "| labelled images | " + " | ".join(ways) + " |", "|---:|" + "---:|" * len(ways)]
    for n in counts:
        md.append(f"| {int(n):,} | " + " | ".join(
            f"{100 * number(part, 'accuracy', w, n, 'mean'):.2f} ± "
            f"{100 * number(part, 'accuracy', w, n, 'std'):.2f}" for w in ways) + " |")
    return md + ["", f"Every run takes {number(part, 'steps'):,.0f} optimisation steps, rounded "
                     "up to whole epochs (`python -m beyond.labels`).", ""]


def vae_section(vae, out):
    t = {k: number(vae, "test", k) for k in ("neg_elbo", "recon", "kl", "iw_images", "iw_log_px")}
    return ["## The VAE (section 3.5)", "",
            f"With d = {vae['params']['d']}, lr = {fmt(vae['params']['lr'])}, weight decay = "
            f"{fmt(vae['params']['weight_decay'])} "
            f"({'Table 7' if vae['source'] == 'report' else vae['source']}), "
            f"{len(vae['history']['val_recon'])} epochs: test negative ELBO "
            f"**{t['neg_elbo']:.2f} nats per image** (reconstruction {t['recon']:.2f} + KL "
            f"{t['kl']:.2f}); importance-weighted estimate with K = {vae['test']['iw_samples']} on "
            f"{t['iw_images']:,.0f} images: -log p(x) ≤ **{-t['iw_log_px']:.2f} nats**. "
            "The report gives no number for the VAE.", ""] + checkpoint_note(vae, out / "vae.pt")


def explore_section(ex, out):
    models = [m for m in ("AE", "VAE") if m in ex["knn"]]
    md = ["## The report's claims about the latent space, measured (section 3.4)", "",
          "Class separation: leave-one-out 10-nearest-neighbour class accuracy.", "",
          "| space | " + " | ".join(models) + " |", "|---|" + "---:|" * len(models),
          "| raw pixels | " + " | ".join(f"{number(ex, 'knn', 'raw pixels'):.3f}" for _ in models)
          + " |"]
    for rep in ex["knn"][models[0]]:
        md.append(f"| {rep} | " + " | ".join(f"{number(ex, 'knn', m, rep):.3f}" for m in models)
                  + " |")
    md += ["", "Smoothness: the largest single step of a decoded walk between two test codes "
               "as a fraction of the whole walk (1/steps = perfectly even; lower is smoother).",
           "", "| model | mean | standard deviation |", "|---|---:|---:|"]
    md += [f"| {m} | {number(ex, 'smoothness', m, 'mean'):.3f} | "
           f"{number(ex, 'smoothness', m, 'std'):.3f} |" for m in ex["smoothness"]]
    md.append("")
    return md


def samples_section(q, out):
    """The third claim (beyond/samples.py): the judge's table and its verdict."""
    accuracy = number(q, "judge_test_accuracy")
    weak = (f" **Below {MIN_JUDGE_ACCURACY}: these scores mean nothing.**"
            if accuracy < MIN_JUDGE_ACCURACY else "")
    md = ["## The third claim: are the samples meaningful? (beyond/samples.py)", "",
          f"{number(q, 'images_per_row'):,.0f} images per row, judged by a small CNN trained on "
          f"the training images (test accuracy {100 * accuracy:.1f} %).{weak} Every sampler of "
          f"AE codes is fitted to the codes of the {number(q, 'training_codes'):,.0f} training "
          "images. "
          "Recognisability: the judge's mean top probability and the share of images it gives "
          "≥ 0.9; diversity: the entropy of its predicted classes (3.32 bits = all ten "
          "equally); Fréchet distance of its features to the test images' (lower is closer).",
          "", "| images | mean top probability | share ≥ 0.9 | classes (bits) | "
          "Fréchet distance |", "|---|---:|---:|---:|---:|"]
    row = lambda key, name: number(q, "rows", key, name)  # noqa: E731
    md += [f"| {ROWS[key]} | {row(key, 'confidence'):.3f} | {row(key, 'confident_share'):.3f} "
           f"| {row(key, 'class_entropy_bits'):.2f} | {row(key, 'fd'):.2f} |" for key in q["rows"]]
    return md + ["", f"**Verdict on the third claim:** {q['verdict']}", ""]


def seeds_section(out):
    """After `reproduce.py --seeds N`: both configurations over the seeds, and the verdicts.
    Seed runs that cannot be summarised leave a note, not the rest of summary.md unwritten."""
    try:
        return [seeds.markdown(out)]
    except SystemExit as e:
        print(f"note: the seed runs are left out of summary.md: {e}", file=sys.stderr)
        return [f"The seed runs could not be summarised: {str(e).removeprefix('error: ')}", ""]


def times_section(out):
    """OUT/times.tsv (written by scripts/reproduce.py): each step's start, end and seconds
    from the run's start, and rows named "wall time": the wall time beside the steps' sum."""
    rows = read_times(out / "times.tsv", SEQUENCE_TIMES)
    steps = [row for row in rows if not row[0].startswith("wall time")]
    md = ["## Time of each step", "", "Seconds from the run's start: steps side by side "
          "overlap (`reproduce.py --jobs`).", "", "| step | start | end | seconds |",
          "|---|---:|---:|---:|"]
    md += [f"| {step} | {start:.0f} | {end:.0f} | {s:.0f} |" for step, start, end, s in steps]
    md += ["", f"The steps one after another: {sum(row[3] for row in steps):.0f} s."]
    md += [f"{step[0].upper() + step[1:]}: {s:.0f} s." for step, *_, s in rows
           if step.startswith("wall time")]
    return md + [""] if rows else []


if __name__ == "__main__":
    run(main)

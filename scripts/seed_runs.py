"""The numbers of a seed run or a study, for scripts/seeds.py: where each is in the results
files (METRICS), and which runs are whole. A run stopped part way is left out, by name.
"""
from plumbing.files import fingerprint, number, read_json, reading
from scripts.reproduce import SEED_RUN, TUNED

RERUN = "rerun `python -m scripts.reproduce --seeds N` (or --studies N)"
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
STEP_FILES = [name for step in SEED_RUN for name in step.makes if name.endswith(".json")]


def classifier_accuracy(data, seed):
    """Test accuracy (%) of the run trained with `seed` (classify.py --seeds 1 makes one run;
    the report's own classify.json one per seed, SEED first)."""
    seeds = [run.get("seed") for run in data["table6"]["table5"]["runs"]]
    if seed not in seeds:
        raise KeyError(f"a classifier run with seed {seed}")
    return 100 * number(data, "table6", "table5", "runs", seeds.index(seed), "accuracy")


def numbered(folder, prefix):
    """{N: folder/PREFIX<N>} of the folders there, by N: the seed runs, or the studies."""
    found = [f for f in folder.glob(prefix + "*") if f.name.removeprefix(prefix).isdigit()]
    return dict(sorted((int(f.name.removeprefix(prefix)), f) for f in found))


def incomplete(folder, names):
    """Why a folder is not a whole run (stopped part way), or None: each of its results files
    is there, and a results entry that records a checkpoint describes the one beside it."""
    if missing := [name for name in names if not (folder / name).exists()]:
        return f"no {', '.join(missing)}"
    for name, entry, checkpoint in (("ae.json", "refit", "ae.pt"), ("vae.json", None, "vae.pt")):
        data = read_json(folder / name, RERUN)
        recorded = (data.get(entry, {}) if entry else data).get("checkpoint")
        if recorded is not None and (not (folder / checkpoint).exists()
                                     or fingerprint(folder / checkpoint) != recorded):
            return f"{name} describes another {checkpoint}"
    return None


def read_runs(folders, seed=None):
    """The whole runs of folders = {N: folder}, seed runs (N: the seed) or studies (trained at
    `seed`): {"seeds": [N, ...], "values": {key: [value per run, None where absent]},
    "incomplete": {N: why}}, and for studies "tuned_values": [{"ae: d": 46, ...} per run]."""
    names = STEP_FILES if seed is None else [*TUNED, *STEP_FILES]
    data = {"seeds": [], "values": {key: [] for key, *_ in METRICS}, "incomplete": {}}
    for n, folder in folders.items():
        if why := incomplete(folder, names):
            data["incomplete"][n] = why
            continue
        data["seeds"].append(n)
        files = {name: read_json(folder / name, RERUN) for name in names}
        for key, _, name, path, _ in METRICS:
            with reading(folder / name, RERUN):
                value = (classifier_accuracy(files[name], n if seed is None else seed)
                         if path == "classify" else
                         number(files[name], *path.split("."), optional=key in OPTIONAL))
            data["values"][key].append(-value if key in NEGATED else value)
        if seed is not None:
            data.setdefault("tuned_values", []).append({})
            for name in TUNED:
                with reading(folder / name, RERUN):
                    data["tuned_values"][-1].update(
                        (f"{name[6:-5]}: {k}", v) for k, v in files[name]["params"].items())
    return data

"""Beyond the report: are the samples meaningful? The third claim of sections 3.4 and 3.5.

"The VAE's samples are all meaningful, the AE's only sometimes." Random codes of each model
are decoded and shown to a judge, a small CNN trained on the training images (beyond/judge.py).
The AE's codes are drawn uniform in their min-max box (the notebook's), from one Gaussian and
from a mixture of 10 Gaussians fitted by EM, each fitted to the AE's training codes, never to
the test images; the VAE's from its prior N(0, I). Reference rows: the test images (the
ceiling), held-out validation images (the floor), noise with the data's per-pixel moments.

    python -m beyond.samples           # after ae.py and vae.py: 2-core CPU, about 2 min
    python -m beyond.samples --quick   # outputs/quick/, 2,000 training images: seconds

Writes to outputs/: samples.json, fig_samples.png, judge.pt (the judge, cached for a rerun).
"""
import math
import textwrap
import time

import torch

from beyond import judge
from classify import evaluate
from common import batched, load_test, load_train_val
from explore import FIGURE_4_ROWS, decoded_samples, load_models
from plumbing.cli import (Parser, add_common_flags, parse_args, pick_device, print_settings,
                          run, seed_everything)
from plumbing.figures import plot_grid
from plumbing.files import out_dir, save_json

# The rows of the judge's table: key (in samples.json; seeds.py reads them) -> label
ROWS = {"real": "real test images (the ceiling)",
        "held_out": "held-out validation images (the floor)",
        "ae_box": FIGURE_4_ROWS["ae_box"],
        "ae_gaussian": FIGURE_4_ROWS["ae_gaussian"],
        "ae_mixture": "AE, a mixture of 10 Gaussians fitted by EM",
        "vae_prior": FIGURE_4_ROWS["vae_prior"],
        "noise": "no structure: the data's per-pixel mean and variance"}
MIN_JUDGE_ACCURACY = 0.5  # below it, a judge's scores say nothing about the samples
QUICK = {"subset": 2000}


# -----------------------------------------------------------------------------
# A mixture of Gaussians fitted to the AE's training codes by EM ("ex-post density
# estimation"): a third way to draw AE codes, beside the box and one Gaussian

def gaussian_log_density(x, mean, cov):
    """log N(x_i | mean, cov) of each row of x (N, d): (N,). With cov = L L^T (Cholesky),
    log N = -1/2 (d log 2 pi + log det cov + |L^-1 (x - mean)|^2), log det cov = 2 sum log L_jj."""
    L = torch.linalg.cholesky(cov)                                        # (d, d)
    u = torch.linalg.solve_triangular(L, (x - mean).T, upper=False)       # (d, N)
    log_det = 2 * L.diagonal().log().sum()
    return -0.5 * (x.shape[1] * math.log(2 * math.pi) + log_det + u.square().sum(0))


def kmeans_pp_centres(x, k, generator):
    """k rows of x (N, d) picked as k-means++ does: the first uniformly, each next one
    with probability proportional to its squared distance to the nearest centre so far."""
    idx = [torch.randint(len(x), (1,), generator=generator).item()]
    d2 = (x - x[idx[0]]).square().sum(1)                                   # (N,)
    for _ in range(k - 1):
        idx.append(torch.multinomial(d2.cpu(), 1, generator=generator).item())
        d2 = torch.minimum(d2, (x - x[idx[-1]]).square().sum(1))
    return x[idx].clone()                                                  # (k, d)


def e_step(x, weights, means, covs):
    """Responsibilities r_ik = w_k N(x_i|mu_k,S_k) / sum_j w_j N(x_i|mu_j,S_j): (N, K),
    and the mean log-likelihood (1/N) sum_i log sum_k w_k N(x_i|mu_k,S_k), by log-sum-exp."""
    log_p = torch.stack([w.log() + gaussian_log_density(x, m, S)
                         for w, m, S in zip(weights, means, covs)], 1)     # (N, K)
    log_px = torch.logsumexp(log_p, 1)                                     # (N,)
    return (log_p - log_px[:, None]).exp(), log_px.mean().item()


def m_step(x, r, ridge):
    """Weights (K,), means (K, d) and covariances (K, d, d) from responsibilities r (N, K)."""
    # N_k = sum_i r_ik (a tiny floor keeps an emptied component from dividing by 0)
    Nk = r.sum(0) + 1e-10                                                  # (K,)
    weights = Nk / len(x)
    # mu_k = sum_i r_ik x_i / N_k
    means = (r.T @ x) / Nk[:, None]                                        # (K, d)
    eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    # S_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T / N_k + ridge I
    covs = torch.stack([((x - m).T * rk) @ (x - m) / nk + ridge * eye
                        for m, rk, nk in zip(means, r.T, Nk)])             # (K, d, d)
    return weights, means, covs


def fit_mixture(z, k=10, generator=None, iters=100, tol=1e-2, ridge=1e-6, verbose=False):
    """Weights (k,), means (k, d), covariances (k, d, d) of k Gaussians fitted to the rows of z
    (N, d) by EM, in float64, from means at k-means++ picks, the data's covariance and equal
    weights, until the mean log-likelihood gains less than `tol` nats (or `iters` iterations)."""
    x = z.double()
    means = kmeans_pp_centres(x, k, generator)
    cov = torch.cov(x.T) + ridge * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    weights, covs = torch.full((k,), 1 / k, dtype=x.dtype, device=x.device), cov.expand(k, -1, -1)
    previous = -math.inf
    for it in range(1, iters + 1):
        r, log_lik = e_step(x, weights, means, covs)                       # r: (N, k)
        weights, means, covs = m_step(x, r, ridge)
        if log_lik - previous < tol:
            break
        previous = log_lik
    if verbose:
        print(f"EM: {it} iterations, mean log-likelihood {log_lik:.3f} nats per code, "
              f"weights {' '.join(f'{w:.2f}' for w in weights.tolist())}")
    return weights, means, covs


def sample_mixture(weights, means, covs, n, generator):
    """n draws (n, d) from the mixture: a component k with probability w_k, then
    z = mu_k + L_k eps with S_k = L_k L_k^T (Cholesky) and eps ~ N(0, I)."""
    comp = torch.multinomial(weights.cpu(), n, replacement=True, generator=generator)  # (n,)
    eps = torch.randn(n, means.shape[1], generator=generator, dtype=means.dtype)       # (n, d)
    comp, eps = comp.to(means.device), eps.to(means.device)
    L = torch.linalg.cholesky(covs)                                       # (K, d, d)
    z = torch.empty_like(eps)
    for k in range(len(weights)):
        rows = comp == k
        z[rows] = means[k] + eps[rows] @ L[k].T                           # row form of L eps
    return z


def all_samples(models, z_train, mixture, n, generator):
    """n decoded random codes of every sampler, {key of ROWS: (n, 1, 28, 28)}: Figure 4's and
    the mixture, each AE sampler fitted to the training codes z_train."""
    drawn = decoded_samples(models, z_train, n, generator)
    z = sample_mixture(*mixture, n, generator).float().to(z_train.device)
    drawn["ae_mixture"] = batched(models["AE"].decode, z)
    return {key: drawn[key] for key in ROWS if key in drawn}


# -----------------------------------------------------------------------------
# The judge's table and the verdict

def sample_quality(judge_model, x_held_out, x_train, x_test, y_test, samples, generator):
    """{"judge_test_accuracy", "images_per_row", "rows": {key of ROWS: scores}, "verdict"} of
    the samples {key: (N, 1, 28, 28)}, N = the test images, and of the reference rows."""
    t0 = time.perf_counter()
    accuracy = evaluate(judge_model, x_test, y_test)["accuracy"]   # classify.py's
    print(f"judge: test accuracy {accuracy:.4f}")
    _, test_features = judge.judge_outputs(judge_model, x_test)
    n = len(x_test)
    if len(x_held_out) < n:
        raise SystemExit(f"error: the floor needs {n} held-out images, and there are "
                         f"{len(x_held_out)}")
    images = {"real": x_test, "held_out": x_held_out[:n], **samples,
              "noise": judge.structureless_images(x_train, n, generator)}
    rows = {key: judge.judge_scores(judge_model, batch, test_features)
            for key, batch in images.items()}
    return {"judge_test_accuracy": accuracy, "images_per_row": n, "rows": rows,
            "verdict": third_claim(rows, accuracy), "seconds": time.perf_counter() - t0}


def beats(a, b):
    """a's samples beat b's on both numbers: a lower Frechet distance, a larger confident share."""
    return a["fd"] < b["fd"] and a["confident_share"] > b["confident_share"]


def third_claim(rows, judge_accuracy=1.0):
    """One sentence on the report's third claim: does it hold, and does the mixture change it?"""
    if judge_accuracy < MIN_JUDGE_ACCURACY:
        return (f"Not judged: the judge's test accuracy is {judge_accuracy:.3f}, below "
                f"{MIN_JUDGE_ACCURACY}, so its scores say nothing about the samples (train it "
                "on more images: a larger --subset, or 0 for all).")
    box, mixture, vae = rows["ae_box"], rows["ae_mixture"], rows.get("vae_prior")
    if vae is None:
        return "No VAE in this folder (run vae.py), so the claim cannot be judged here."
    if beats(vae, box):
        claim = ("The claim holds against the notebook's sampler: the VAE's samples are "
                 "closer to real images and more often recognised than the AE's box samples")
    elif beats(box, vae):
        claim = ("The claim does not hold: the AE's box samples are closer to real images and "
                 "more often recognised than the VAE's")
    else:
        claim = "The claim is undecided: the two numbers disagree"
    if beats(mixture, vae):
        return claim + ", and an AE sampled from a mixture fitted to its codes beats the VAE."
    return claim + ", and the AE's mixture sampler does not beat the VAE."


def print_table(samples):
    print(f"\nsample quality, judged by a CNN of test accuracy "
          f"{samples['judge_test_accuracy']:.3f}, {samples['images_per_row']} images per row")
    if samples["judge_test_accuracy"] < MIN_JUDGE_ACCURACY:
        print(f"(below {MIN_JUDGE_ACCURACY}: these scores mean nothing)")
    print(f"{'images':56s} {'mean top p':>10s} {'p >= 0.9':>9s} {'classes':>8s} {'Fréchet':>8s}")
    for key, r in samples["rows"].items():
        print(f"{ROWS[key]:56s} {r['confidence']:10.3f} {r['confident_share']:9.3f} "
              f"{r['class_entropy_bits']:6.2f} b {r['fd']:8.2f}")
    print(samples["verdict"])


# -----------------------------------------------------------------------------
# main(): flags, data, samplers, the judge, results

def main(argv=None):
    args = parse_args(build_parser(), QUICK, argv)
    print_settings(args)
    device = pick_device(args.device)
    out = out_dir(args.out_dir)
    seed_everything(args.seed)
    t_start = time.perf_counter()
    models = load_models(out, device)            # {"AE": LatentModel}, and "VAE"
    (x_train, y_train), (x_val, y_val) = load_train_val(args.data_dir, device, args.subset)
    x_test, y_test = load_test(args.data_dir, device, args.subset)
    print(f"data: {len(x_train)} training / {len(x_val)} held-out / {len(x_test)} test "
          f"images on {device}")
    judge_model = judge.get_judge(x_train, y_train, x_val, y_val, args.seed, args.subset,
                                  out / "judge.pt")
    z_train = batched(models["AE"].encode, x_train)  # every sampler is fitted to these codes
    mixture = fit_mixture(z_train, 10, torch.Generator().manual_seed(args.seed), verbose=True)
    g = torch.Generator().manual_seed(args.seed + 1)
    samples = all_samples(models, z_train, mixture, len(x_test), g)  # as many as test images
    results = {"settings": vars(args), "device": str(device), "fitted_to": "training codes",
               "training_codes": len(z_train),
               **sample_quality(judge_model, x_val, x_train, x_test, y_test, samples, g)}
    results["wall_seconds"] = time.perf_counter() - t_start
    save_json(out / "samples.json", results)
    plot_samples(models, z_train, mixture, args, out)  # the figure last
    print_table(results)
    print(f"done in {results['wall_seconds']:.0f}s on {device}; results in {out}/")


def plot_samples(models, z_train, mixture, args, out, n=10):
    """fig_samples.png: n decoded random codes of each sampler, one row each."""
    rows = all_samples(models, z_train, mixture, n, torch.Generator().manual_seed(args.seed))
    plot_grid(torch.stack(list(rows.values())), out / "fig_samples.png",
              "Random codes decoded, every AE sampler fitted to the codes of the "
              f"{len(z_train):,} training images",
              row_labels=[textwrap.fill(ROWS[key], 18) for key in rows])


def build_parser():
    parser = Parser(description=__doc__.split("\n")[0] + "\n\nReads OUT_DIR/ae.pt (written by "
                    "`python ae.py`) and, where it exists,\nOUT_DIR/vae.pt (`python vae.py`).")
    add_common_flags(parser)
    return parser


if __name__ == "__main__":
    run(main)

"""Beyond the report: are the samples meaningful? The third claim of section 3.4, as numbers.

"The VAE's samples are all meaningful, the AE's only sometimes" (sections 3.4, 3.5). A judge,
a small CNN trained only on the 48,000 training images (its weights share nothing with the
AE or the VAE), looks at 10,000 decoded random codes of each sampler and gives:
  recognisability  its mean top softmax probability, and the share of images at >= 0.9;
  diversity        the entropy in bits of the histogram of its predicted classes
                   (log2 10 = 3.32: all ten classes equally often; 0: one class);
  Frechet distance between its 128 penultimate features of the images and those of the
                   10,000 test images: the FID of Heusel et al. (2017) with this judge in
                   place of Inception, as is usual on MNIST-sized data; 0 for the same
                   distribution.
Beside the samplers: real test images (the ceiling), training images (the Frechet floor),
and images with the data's per-pixel mean and variance but no structure. A fourth sampler
of the AE's codes, a mixture of Gaussians fitted by EM ("ex-post density estimation", as
in pythae's benchmark), shows how much of the claim is about the sampler, not the model.

explore.py calls this module (`python explore.py` reports all three claims); it caches the
judge in OUT/judge.pt, so that a rerun skips its training.
Measured (2-core CPU, the report's tables, seed 0): Frechet distance of the VAE's samples
72.8, of the AE's min-max box 144.2, of the AE's mixture 8.9.
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import batches
from plumbing.checkpoints import save_checkpoint

# The rows of the judge's table: key (in explore.json; seeds.py reads them) -> label
ROWS = {"real": "real test images (the ceiling)",
        "train": "training images (the Fréchet floor)",
        "ae_box": "AE, uniform in the min-max box (the notebook's)",
        "ae_gaussian": "AE, one Gaussian fitted to the codes",
        "ae_mixture": "AE, a mixture of 10 Gaussians fitted by EM",
        "vae_prior": "VAE, z ~ N(0, I)",
        "noise": "no structure: the data's per-pixel mean and variance"}
JUDGE = {"width": 16, "epochs": 3}  # its settings; with seed and subset, its cache's key


# -----------------------------------------------------------------------------
# A mixture of Gaussians fitted to the AE's codes by EM ("ex-post density estimation",
# as in pythae's benchmark): a third way to draw AE codes, beside the box and one Gaussian

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
    """A mixture of k full-covariance Gaussians fitted to the rows of z (N, d) by EM, in
    float64. Start: means at k-means++ picks, every covariance the data's, equal weights.
    Stops after `iters` iterations or when the mean log-likelihood gains less than `tol`
    nats. Returns weights (k,), means (k, d), covariances (k, d, d)."""
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


# -----------------------------------------------------------------------------
# The judge: a small CNN classifier, and what it says of a set of images

class Judge(nn.Module):
    """A small CNN classifier: x (B, 1, 28, 28) -> logits (B, 10); features(x) -> (B, 128).
    Stride-2 convolutions rather than conv + max-pool: on a 2-core CPU a training step
    takes about a third of the time (the second conv runs on 7 x 7, not 14 x 14)."""

    def __init__(self, width=16, n_features=128, dropout=0.3):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, stride=2, padding=1), nn.ReLU(),          # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),  # (B, 2w, 7, 7)
            nn.Flatten(),                                                    # (B, 2w * 49)
            nn.Linear(2 * width * 49, n_features), nn.ReLU(),                            # (B, 128)
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(n_features, 10))     # (B, 10)

    def features(self, x):
        """The penultimate features, after the ReLU: (B, 128)."""
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


@torch.no_grad()
def judge_accuracy(judge, x, y, batch_size=1000):
    """Share of the images x (N, 1, 28, 28) whose predicted class is the label y (N,)."""
    judge.eval()
    pred = torch.cat([judge(xb).argmax(1) for xb in x.split(batch_size)])    # (N,)
    return (pred == y).float().mean().item()


def train_judge(x_train, y_train, epochs=3, batch_size=128, seed=0, lr=3e-3, width=16,
                x_val=None, y_val=None):
    """Train a Judge with Adam on the cross-entropy, the learning rate falling linearly
    from lr to 0 (a few epochs then reach what a constant one needs more for); prints
    the validation accuracy after each epoch when x_val, y_val are given. Returns the
    judge in eval mode."""
    torch.manual_seed(seed)                   # initial weights and dropout masks
    judge = Judge(width).to(x_train.device)
    optimizer = torch.optim.Adam(judge.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)   # batch order
    steps, step = epochs * math.ceil(len(x_train) / batch_size), 0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        judge.train()
        for idx in batches(len(x_train), batch_size, x_train.device, generator=g):
            optimizer.param_groups[0]["lr"] = lr * (1 - step / steps)
            step += 1
            loss = F.cross_entropy(judge(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if x_val is not None:
            print(f"judge epoch {epoch}/{epochs}: last batch loss {loss.item():.3f}, "
                  f"validation accuracy {judge_accuracy(judge, x_val, y_val):.4f}, "
                  f"{time.perf_counter() - t0:.1f}s")
    return judge.eval()


@torch.no_grad()
def judge_outputs(judge, images, batch_size=1000):
    """Softmax probabilities (N, 10) and penultimate features (N, 128) of images (N, 1, 28, 28)."""
    judge.eval()
    probs, feats = [], []
    for xb in images.split(batch_size):
        f = judge.features(xb)                                   # (B, 128)
        probs.append(judge.head(f).softmax(1))                   # (B, 10)
        feats.append(f)
    return torch.cat(probs), torch.cat(feats)


def feature_stats(features):
    """Mean (D,) and covariance (D, D) of the rows of features (N, D), in float64."""
    f = features.double()
    mu = f.mean(0)
    # S = sum_i (f_i - mu)(f_i - mu)^T / (N - 1)
    centred = f - mu
    return mu, centred.T @ centred / (len(f) - 1)


def sqrtm_psd(S):
    """The symmetric square root of a symmetric PSD matrix: S = V diag(lam) V^T ->
    V diag(sqrt(lam)) V^T, tiny negative eigenvalues (rounding) clamped to 0."""
    lam, V = torch.linalg.eigh(S)
    return (V * lam.clamp_min(0).sqrt()) @ V.T


def frechet_distance(mu1, S1, mu2, S2):
    """Frechet (2-Wasserstein squared) distance between N(mu1, S1) and N(mu2, S2):
    ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), in float64."""
    mu1, S1, mu2, S2 = (t.double() for t in (mu1, S1, mu2, S2))
    # (S1 S2)^(1/2) need not be symmetric, but its eigenvalues are those of the symmetric
    # PSD matrix M = S1^(1/2) S2 S1^(1/2) (the same characteristic polynomial), so
    #   Tr (S1 S2)^(1/2) = sum_i sqrt(eigenvalue_i(M))
    R = sqrtm_psd(S1)
    M = R @ S2 @ R
    M = (M + M.T) / 2                      # symmetric again after rounding
    trace_sqrt = torch.linalg.eigvalsh(M).clamp_min(0).sqrt().sum()
    fd = (mu1 - mu2).square().sum() + S1.trace() + S2.trace() - 2 * trace_sqrt
    # a singular S1 or S2 can leave a rounding error ~ sqrt(1e-16) below 0
    return max(fd.item(), 0.0)


def frechet_distance_features(f1, f2):
    """Frechet distance between Gaussians fitted to two sets of features (N1, D), (N2, D)."""
    return frechet_distance(*feature_stats(f1), *feature_stats(f2))


def class_entropy_bits(pred, n_classes=10):
    """Entropy in bits of the histogram of predicted classes pred (N,):
    H = -sum_c p_c log2 p_c, with 0 log 0 = 0."""
    p = torch.bincount(pred, minlength=n_classes).double() / len(pred)     # (10,)
    p = p[p > 0]
    return -(p * p.log2()).sum().item() + 0.0  # + 0.0: 0.0, not -0.0, for a single class


def judge_scores(judge, images, test_features):
    """The judge's verdict on images (N, 1, 28, 28), against the features (M, 128) of the
    test images: a dict of confidence, confident_share, class_entropy_bits and fd."""
    probs, feats = judge_outputs(judge, images)
    top, pred = probs.max(1)                                              # (N,), (N,)
    return {"confidence": top.mean().item(),
            "confident_share": (top >= 0.9).float().mean().item(),
            "class_entropy_bits": class_entropy_bits(pred),
            "fd": frechet_distance_features(feats, test_features)}


def structureless_images(x_train, n, generator):
    """n images with the per-pixel mean and variance of x_train (N, 1, 28, 28) but no
    structure: each pixel an independent Gaussian, clipped to [0, 1]."""
    mean, std = x_train.mean(0), x_train.std(0)                            # (1, 28, 28)
    eps = torch.randn(n, *mean.shape, generator=generator).to(x_train.device)
    return (mean + std * eps).clamp(0, 1)                                  # (n, 1, 28, 28)


# -----------------------------------------------------------------------------
# The third claim: every sampler's images judged, and the verdict

def sample_quality(judge, x_train, x_test, y_test, samples, generator):
    """The judge's numbers for the decoded samples {key of ROWS: images (N, 1, 28, 28)},
    beside the test images (the ceiling), the first N training images (the Frechet floor)
    and N structureless images drawn with `generator`; N = the number of test images.
    Returns {"judge_test_accuracy", "images_per_row", "rows": {key: scores}, "verdict"}."""
    t0 = time.perf_counter()
    accuracy = judge_accuracy(judge, x_test, y_test)
    print(f"judge: test accuracy {accuracy:.4f}")
    _, test_features = judge_outputs(judge, x_test)
    n = len(x_test)
    images = {"real": x_test, "train": x_train[:n], **samples,
              "noise": structureless_images(x_train, n, generator)}
    rows = {key: judge_scores(judge, batch, test_features) for key, batch in images.items()}
    return {"judge_test_accuracy": accuracy, "images_per_row": n, "rows": rows,
            "verdict": sample_verdict(rows), "seconds": time.perf_counter() - t0}


def print_table(samples):
    """The judge's table, as explore.py prints it."""
    print(f"\nsample quality (beyond/judge.py), judged by a CNN of test accuracy "
          f"{samples['judge_test_accuracy']:.3f}, {samples['images_per_row']} images per row")
    print(f"{'images':56s} {'mean top p':>10s} {'p >= 0.9':>9s} {'classes':>8s} {'Fréchet':>8s}")
    for key, r in samples["rows"].items():
        print(f"{ROWS[key]:56s} {r['confidence']:10.3f} {r['confident_share']:9.3f} "
              f"{r['class_entropy_bits']:6.2f} b {r['fd']:8.2f}")
    print(samples["verdict"])


def sample_verdict(rows):
    """One sentence on the report's third claim, from the Frechet distances and the share
    of samples the judge is sure of: does it hold, and does the mixture change it?"""
    box, mixture, vae = rows["ae_box"], rows["ae_mixture"], rows.get("vae_prior")
    if vae is None:
        return "No VAE in this folder (run vae.py), so the claim cannot be judged here."
    better = lambda a, b: a["fd"] < b["fd"] and a["confident_share"] > b["confident_share"]
    if better(vae, box):
        claim = ("The claim holds against the notebook's sampler: the VAE's samples are "
                 "closer to real images and more often recognised than the AE's box samples")
    elif better(box, vae):
        claim = ("The claim does not hold: the AE's box samples are closer to real images and "
                 "more often recognised than the VAE's")
    else:
        claim = "The claim is undecided: the two numbers disagree"
    if better(mixture, vae):
        return claim + ", and an AE sampled from a mixture fitted to its codes beats the VAE."
    return claim + ", and the AE's mixture sampler does not beat the VAE."


def get_judge(x_train, y_train, x_val, y_val, seed, subset, path):
    """The judge cached in `path` if it was trained with these settings, else a new one,
    trained on x_train and cached there. The file is only a cache: one that is damaged,
    of another model or of another shape is said in one line and replaced."""
    settings = {**JUDGE, "seed": seed, "subset": subset}
    if path.exists():
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
            judge = Judge(settings["width"])
            judge.load_state_dict(ckpt["judge"])
            if ckpt["settings"] == settings:
                print(f"judge: read from {path}")
                return judge.to(x_train.device).eval()
            print(f"judge: {path} was trained with {ckpt['settings']}, not {settings}; "
                  "training a new one")
        except Exception as e:  # not a file of ours, truncated, other weights or shapes
            print(f"judge: {path} is not a judge this code can read "
                  f"({type(e).__name__}); training a new one")
    print(f"judge: training a small CNN on the {len(x_train)} training images")
    judge = train_judge(x_train, y_train, settings["epochs"], seed=seed,
                        width=settings["width"], x_val=x_val, y_val=y_val)
    save_checkpoint(path, settings, judge=judge.state_dict())
    return judge

"""The latent spaces of the AE and the VAE explored: sections 2.4 and 3.4 of the report.

The AE of outputs/ae.pt (from `python ae.py`) encodes the 10,000 test images; so does the
VAE of outputs/vae.pt (from `python vae.py`), by its means, when that file exists. Then:
- t-SNE (Figure 3, written out below in PyTorch, exact) and PCA (Figure 9) to 2-D;
- random codes decoded (Figure 4): uniform in the min-max box of the codes, as the
  report's notebook did, against a Gaussian fitted to them (and N(0, I) for the VAE);
- interpolation (Figure 5a): a walk between two test images, a grid between four;
- claim 1, "classes separate": leave-one-out 10-nearest-neighbour class accuracy;
- claim 2, "the VAE's space is smooth, the AE's abrupt": the largest single step of a
  decoded walk between two test codes as a fraction of the whole walk;
- claim 3, "the VAE's samples are all meaningful, the AE's only sometimes": a small CNN
  judge scores 10,000 samples of each sampler (a mixture fitted by EM among them).

    python explore.py           # 2-core CPU, t-SNE of 3,000 points, the judge: 54 s
    python explore.py --tsne-points 0 --device cuda   # all 10,000 points on a GPU
    python explore.py --quick   # 500 test images: about 5 s

Measured (2-core CPU, the report's tables): 10-NN accuracy in the latent space 0.820 (AE)
and 0.804 (VAE); smoothness 0.137 (AE) against 0.155 (VAE), 0.100 being perfectly even.
Writes to outputs/: fig03_tsne.png, fig09_pca.png, fig04_ae_samples.png,
fig05a_ae_interpolation.png, explore.json, judge.pt (reruns skip the judge's training).
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import (CLASSES, CORNERS, Decoder, Encoder, Parser, add_common_flags, batches,
                    bilinear, command_for, first_of_classes, load_checkpoint, load_test,
                    load_train_val, load_weights, save_checkpoint,
                    non_negative_int, out_dir, parse_args, pca, pick_device, plot_grid,
                    positive_float, positive_int, print_settings, pyplot, run, save_json,
                    seed_everything)

WALK = ("Ankle boot", "Bag")                               # Figure 5a: the 1-D walk
QUICK = {"subset": 2000, "tsne_points": 0, "tsne_iters": 500, "pairs": 50}


# -----------------------------------------------------------------------------
# t-SNE (van der Maaten and Hinton, 2008), exact, in PyTorch

def conditional_p(D2, perplexity, steps=100, tol=1e-5):
    """p_j|i = exp(-beta_i D2_ij) / sum_{k != i} exp(-beta_i D2_ik), one beta_i = 1/(2 sigma_i^2)
    per point, found by binary search so that the entropy of row i is log(perplexity) nats.
    D2: (n, n) squared distances. Returns P (n, n), rows summing to 1, and the entropies (n,)."""
    n = len(D2)
    target = math.log(perplexity)
    # Shift each row so that its nearest neighbour is at 0: P does not change, and exp()
    # cannot underflow to an all-zero row. The diagonal (a point and itself) is left out.
    off = D2.masked_fill(torch.eye(n, dtype=torch.bool, device=D2.device), math.inf)
    D2 = (off - off.min(1, keepdim=True).values).fill_diagonal_(0)
    beta = 1 / D2.mean(1, keepdim=True)                           # (n, 1), a first guess
    lo, hi = torch.zeros_like(beta), torch.full_like(beta, math.inf)
    for _ in range(steps):
        # clamp: exp() below -87 gives denormal numbers, up to 40 x slower on a CPU, and
        # exp(-80) ~ 2e-35 is as good as 0 here
        E = (-beta * D2).clamp_(min=-80).exp_().fill_diagonal_(0)  # (n, n), unnormalised p_j|i
        Z = E.sum(1, keepdim=True)
        # H_i = -sum_j p_j|i log p_j|i = log Z_i + beta_i sum_j p_j|i D2_ij
        H = Z.log() + beta * (E * D2).sum(1, keepdim=True) / Z
        if (H - target).abs().max() < tol:
            break
        too_flat = H > target                      # sigma_i too large: raise beta_i
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.where(hi.isinf(), 2 * beta, (lo + hi) / 2)
    return E / Z, H.squeeze(1)


def student_t(Y):
    """The embedding's kernel (1 + |y_i - y_j|^2)^-1, zero on the diagonal: (n, n)."""
    return torch.cdist(Y, Y).square_().add_(1).reciprocal_().fill_diagonal_(0)


def kl_divergence(P, Y):
    """KL(P || Q) = sum_ij p_ij log(p_ij / q_ij), the cost t-SNE minimises, in nats."""
    num = student_t(Y)
    Q = (num / num.sum()).clamp_min(1e-12)
    return (P * (P / Q).log()).sum().item()


def kl_gradient(P, Y, num, W):
    """dC/dY (n, 2) of the cost C = KL(P || Q) at the embedding Y (n, 2). num and W are
    (n, n) buffers, overwritten: num_ij = (1 + |y_i - y_j|^2)^-1 (zero on the diagonal)."""
    # num_ij from |y_i - y_j|^2 = |y_i|^2 + |y_j|^2 - 2 y_i.y_j, in place
    sq = Y.square().sum(1)                                        # (n,)
    torch.addmm(1 + sq[:, None], Y, Y.T, alpha=-2, out=num).add_(sq)
    num.reciprocal_().fill_diagonal_(0)                           # (n, n)
    # Equation 5 of van der Maaten and Hinton (2008):
    #   dC/dy_i = 4 sum_j (p_ij - q_ij) (y_i - y_j) (1 + |y_i - y_j|^2)^-1
    # with q_ij = num_ij / sum_kl num_kl. Written as W_ij = (p_ij - q_ij) num_ij:
    #   dC/dy_i = 4 (y_i sum_j W_ij - sum_j W_ij y_j)
    torch.div(num, num.sum(), out=W)                              # q_ij
    torch.sub(P, W, out=W).mul_(num)                              # W_ij, (n, n)
    return 4 * (W.sum(1, keepdim=True) * Y - W @ Y)


def tsne(x, perplexity=30.0, iters=1000, exaggeration=12.0, exaggeration_iters=250,
         log_every=100, name="t-SNE"):
    """Embed the rows of x (n, D) in two dimensions; returns (Y (n, 2), KL divergence).

    Optimiser settings as in scikit-learn's TSNE (init="pca", learning_rate="auto"), so that
    the two can be compared: early exaggeration 12 for 250 iterations with momentum 0.5,
    then momentum 0.8; per-coordinate gains; learning rate max(n / 12 / 4, 50).
    """
    n = len(x)
    # p_ij = (p_j|i + p_i|j) / 2n: symmetric, sums to 1 (section 3.1 of the paper)
    P_cond, _ = conditional_p(torch.cdist(x, x).square(), perplexity)
    P = ((P_cond + P_cond.T) / (2 * n)).clamp_min(1e-12)           # (n, n)
    P_early = exaggeration * P      # early exaggeration pulls clusters together at first
    # start from the first two principal components, scaled to a standard deviation of 1e-4
    mean, components, _ = pca(x, 2)
    Y = (x - mean) @ components.T                                 # (n, 2)
    Y = Y / Y[:, 0].std() * 1e-4
    lr = max(n / exaggeration / 4, 50.0)
    update, gains = torch.zeros_like(Y), torch.ones_like(Y)
    # Two (n, n) buffers, reused: on a CPU, allocating fresh n x n tensors every iteration
    # costs as much time as the arithmetic itself.
    num, W = torch.empty_like(P), torch.empty_like(P)
    t0 = time.perf_counter()
    for it in range(1, iters + 1):
        early = it <= exaggeration_iters
        grad = kl_gradient(P_early if early else P, Y, num, W)    # (n, 2)
        # gains (Jacobs, 1988): a coordinate that keeps moving the same way takes larger steps
        same_way = update * grad < 0
        gains = torch.where(same_way, gains + 0.2, gains * 0.8).clamp_min(0.01)
        update = (0.5 if early else 0.8) * update - lr * gains * grad
        Y = Y + update
        if log_every and (it % log_every == 0 or it == iters):
            print(f"{name} iteration {it:4d}/{iters}: KL {kl_divergence(P, Y):.4f}, "
                  f"{time.perf_counter() - t0:.1f}s")
    return Y, kl_divergence(P, Y)


# -----------------------------------------------------------------------------
# The report's claims as numbers

def knn_accuracy(z, y, k=10, chunk=1000):
    """Leave-one-out k-nearest-neighbour class accuracy: each point's class is predicted by
    a majority vote of its k nearest other points (a tie goes to the lower class number)."""
    correct = 0
    for start in range(0, len(z), chunk):
        d = torch.cdist(z[start:start + chunk], z)                # (chunk, n)
        rows = torch.arange(len(d), device=z.device)
        d[rows, start + rows] = math.inf                          # leave the point itself out
        neighbours = d.topk(k, largest=False).indices             # (chunk, k)
        votes = F.one_hot(y[neighbours], len(CLASSES)).sum(1)     # (chunk, 10)
        correct += (votes.argmax(1) == y[start:start + chunk]).sum().item()
    return correct / len(z)


def evenness(path):
    """The largest single step of a path divided by its length: path (..., steps + 1, D) ->
    (...,). Equal to 1/steps when every step is the same size, 1 when one step is all."""
    step = (path[..., 1:, :] - path[..., :-1, :]).norm(dim=-1)     # (..., steps)
    return step.max(-1).values / step.sum(-1)


@torch.no_grad()
def decode_line(decode, z0, z1, steps):
    """Decode steps + 1 equally spaced codes from z0 to z1 (P, d): (P, steps + 1, 1, 28, 28)."""
    t = torch.linspace(0, 1, steps + 1, device=z0.device)[None, :, None]   # (1, steps+1, 1)
    z = z0[:, None] + t * (z1 - z0)[:, None]                                # (P, steps+1, d)
    return decode(z.flatten(0, 1)).unflatten(0, z.shape[:2])


def smoothness(decode, z, pairs, steps, generator):
    """Evenness of the decoded walk between `pairs` random pairs of distinct codes: (pairs,)."""
    i = torch.randint(len(z), (pairs,), generator=generator)
    j = (i + torch.randint(1, len(z), (pairs,), generator=generator)) % len(z)   # j != i
    images = decode_line(decode, z[i], z[j], steps)               # (pairs, steps+1, 1, 28, 28)
    return evenness(images.flatten(2)).cpu()


# -----------------------------------------------------------------------------
# Sampling and interpolation (Figures 4 and 5a)

def sample_uniform_box(z, n, generator):
    """The report's notebook: each coordinate uniform between its min and max over z."""
    lo, hi = z.min(0).values, z.max(0).values
    return lo + (hi - lo) * torch.rand(n, z.shape[1], generator=generator).to(z.device)


def sample_gaussian(z, n, generator):
    """From N(mean, covariance) of the codes z: cov = V diag(lam) V^T, so z = mean + V sqrt(lam) eps."""
    z64 = z.double().cpu()
    mean = z64.mean(0)
    lam, V = torch.linalg.eigh(torch.cov(z64.T))
    eps = torch.randn(n, z.shape[1], generator=generator, dtype=torch.float64)
    return (mean + (eps * lam.clamp_min(0).sqrt()) @ V.T).float().to(z.device)


@torch.no_grad()
def bilinear_grid(decode, corners, size=10):
    """The decoded size x size grid between four codes (common.bilinear): (size, size, 1, 28, 28)."""
    return decode(bilinear(corners, size).flatten(0, 1)).unflatten(0, (size, size))


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
# Claim 3 as numbers: are the VAE's samples "all meaningful", the AE's "only sometimes"?
# A judge, a small CNN trained only on the 48,000 training images (its weights share
# nothing with the AE or the VAE), looks at 10,000 images of each kind and gives:
#   recognisability  its mean top softmax probability, and the share of images at >= 0.9
#   diversity        the entropy in bits of the histogram of its predicted classes
#                    (log2 10 = 3.32: all ten classes equally often; 0: one class)
#   Frechet distance between its 128 penultimate features of the images and of the 10,000
#                    test images: the FID of Heusel et al. (2017) with this judge in place of
#                    Inception, as is usual on MNIST-sized data; 0 for the same distribution

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
# The recipe

def main(argv=None):
    args = parse_args(build_parser(), QUICK, argv)
    print_settings(args)
    device = pick_device(args.device)
    out = out_dir(args.out_dir)
    seed_everything(args.seed)
    t_start = time.perf_counter()
    models = load_models(out, device)
    x, y = load_test(args.data_dir, device, args.subset)
    print(f"data: {len(x)} test images on {device}")
    # the t-SNE subsample, shared by every 10-NN accuracy so that all are comparable
    sub = tsne_subsample(len(x), args, device)
    results = {"settings": vars(args), "device": str(device), "test_images": len(x),
               "tsne_points": len(sub), "knn": {}, "smoothness": {}, "models": {}}
    results["knn"]["raw pixels"] = knn_accuracy(x[sub].flatten(1), y[sub], args.k)
    views = {name: explore_model(name, *model, x, y, sub, args, results)
             for name, model in models.items()}
    plot_figures(views, x, y, sub, args, out)
    results["samples"] = sample_quality(views, x, y, args, out)
    results["wall_seconds"] = time.perf_counter() - t_start
    save_json(out / "explore.json", results)
    print_tables(results, args)
    print(f"done in {results['wall_seconds']:.0f}s on {device}; results in {out}/")


def explore_model(name, encode, decode, d, x, y, sub, args, results):
    """Everything explore.py measures and draws of one model: its entries of `results`
    (10-NN accuracies, smoothness, PCA and t-SNE facts) are filled in, and what the
    figures need is returned."""
    z = encode_all(encode, x)                                           # (n, d)
    mean, components, ratio = pca(z, 2)                                 # Figure 9, all codes
    z_pca = (z - mean) @ components.T                                   # (n, 2)
    t0 = time.perf_counter()                                            # Figure 3, subsample
    z_tsne, kl = tsne(z[sub], args.perplexity, args.tsne_iters, name=f"{name} t-SNE")
    seconds = time.perf_counter() - t0
    # claim 1: class separation
    results["knn"][name] = {"latent": knn_accuracy(z[sub], y[sub], args.k),
                            "PCA 2-D": knn_accuracy(z_pca[sub], y[sub], args.k),
                            "t-SNE 2-D": knn_accuracy(z_tsne, y[sub], args.k)}
    # claim 2: smoothness, the same random pairs for every model (same generator seed)
    even = smoothness(decode, z, args.pairs, args.steps, torch.Generator().manual_seed(args.seed))
    results["smoothness"][name] = {"mean": even.mean().item(), "std": even.std().item(),
                                   "median": even.median().item()}
    results["models"][name] = {"d": d, "pca_explained_variance_ratio": ratio.tolist(),
                               "tsne_kl": kl, "tsne_seconds": seconds}
    # Figure 4: random codes decoded; Figure 5a: the walk and the grid
    g = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        if name == "AE":
            mixture = fit_mixture(z, 10, torch.Generator().manual_seed(args.seed))
            samples = {"AE: uniform in\nthe min-max box\n(report's notebook)":
                       decode(sample_uniform_box(z, 10, g)).cpu(),
                       "AE: Gaussian\nfitted to the codes\n(mean, covariance)":
                       decode(sample_gaussian(z, 10, g)).cpu(),
                       "AE: mixture of 10\nGaussians fitted\nby EM":
                       decode(sample_mixture(*mixture, 10, g).float()).cpu()}
        else:
            z_prior = torch.randn(10, d, generator=g).to(x.device)
            samples = {"VAE:\nz ~ N(0, I)": decode(z_prior).cpu()}
    a, b = first_of_classes(y, WALK)
    line = decode_line(decode, z[a:a + 1], z[b:b + 1], args.steps)[0]   # (steps+1, 1, 28, 28)
    return {"d": d, "pca": z_pca, "ratio": ratio.tolist(), "tsne": z_tsne, "kl": kl,
            "codes": z, "decode": decode, "mixture": mixture if name == "AE" else None,
            "samples": samples, "walk": torch.cat([x[a:a + 1], line, x[b:b + 1]]),
            "grid": bilinear_grid(decode, z[first_of_classes(y, CORNERS)])}


def sample_quality(views, x_test, y_test, args, out):
    """Claim 3: the judge's three numbers for 10,000 decoded random codes of each sampler
    (as many as there are test images), beside real images (the ceiling) and images with the
    data's per-pixel mean and variance but no structure (the floor). Returns the results."""
    t0 = time.perf_counter()
    (x_train, y_train), (x_val, y_val) = load_train_val(args.data_dir, x_test.device, args.subset)
    judge = get_judge(x_train, y_train, x_val, y_val, args, out)
    accuracy = judge_accuracy(judge, x_test, y_test)
    print(f"judge: test accuracy {accuracy:.4f}")
    _, test_features = judge_outputs(judge, x_test)
    n, g = len(x_test), torch.Generator().manual_seed(args.seed + 1)
    images = {"real test images (the ceiling)": x_test,
              "training images (the Fréchet floor)": x_train[:n]}
    ae, vae = views["AE"], views.get("VAE")
    z = ae["codes"]
    codes = {"AE, uniform in the min-max box (the notebook's)": sample_uniform_box(z, n, g),
             "AE, one Gaussian fitted to the codes": sample_gaussian(z, n, g),
             "AE, a mixture of 10 Gaussians fitted by EM":
             sample_mixture(*ae["mixture"], n, g).float()}
    for name, z in codes.items():
        images[name] = decode_all(ae["decode"], z)
    if vae is not None:
        z = torch.randn(n, vae["d"], generator=g).to(x_test.device)
        images["VAE, z ~ N(0, I)"] = decode_all(vae["decode"], z)
    images["no structure: the data's per-pixel mean and variance"] = \
        structureless_images(x_train, n, g)
    rows = {name: judge_scores(judge, batch, test_features) for name, batch in images.items()}
    return {"judge_test_accuracy": accuracy, "images_per_row": n, "rows": rows,
            "verdict": sample_verdict(rows), "seconds": time.perf_counter() - t0}


@torch.no_grad()
def decode_all(decode, z, batch_size=1000):
    return torch.cat([decode(zb) for zb in z.split(batch_size)])         # (N, 1, 28, 28)


def sample_verdict(rows):
    """One sentence on the report's third claim, from the Frechet distances and the share
    of samples the judge is sure of: does it hold, and does the mixture change it?"""
    box = rows["AE, uniform in the min-max box (the notebook's)"]
    mixture = rows["AE, a mixture of 10 Gaussians fitted by EM"]
    vae = rows.get("VAE, z ~ N(0, I)")
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


# -----------------------------------------------------------------------------
# Models and the t-SNE subsample

def load_models(out, device):
    """{"AE": (encode, decode, d)} and, when OUT/vae.pt exists, "VAE" beside it."""
    models = {"AE": load_ae(out, device)}
    vae = load_vae(out, device)
    if vae is not None:
        models["VAE"] = vae
    return models


def load_ae(out, device):
    """(encode, decode, d) of the AE in OUT/ae.pt, on `device`, in eval mode (dropout off)."""
    path = out / "ae.pt"
    ckpt = load_checkpoint(path, "python ae.py", key="encoder")
    d, dropout = ckpt["settings"].get("d"), ckpt["settings"].get("dropout", 0.0)
    if d is None:
        raise SystemExit(f"error: {path} has no latent size d in its settings; rerun "
                         f"`{command_for('python ae.py', path)}`")
    encoder = load_weights(Encoder(d, dropout), ckpt, "encoder", path, "python ae.py")
    decoder = load_weights(Decoder(d, dropout), ckpt, "decoder", path, "python ae.py")
    return encoder.to(device).eval(), decoder.to(device).eval(), d


def load_vae(out, device):
    """(encode, decode, d) of the VAE in OUT/vae.pt on `device`, or None without that file.
    The VAE encodes an image by the mean mu of q(z|x), as section 2.4 explores it."""
    path = out / "vae.pt"
    if not path.exists():
        print(f"note: {path} not found, so the VAE parts are skipped "
              f"(run `{command_for('python vae.py', path)}` to add them)")
        return None
    from vae import VAE  # only here: the AE parts do not need vae.py
    ckpt = load_checkpoint(path, "python vae.py", key="vae")
    d = ckpt["settings"].get("d")
    if d is None:
        raise SystemExit(f"error: {path} has no latent size d in its settings; rerun "
                         f"`{command_for('python vae.py', path)}`")
    vae = load_weights(VAE(d), ckpt, "vae", path, "python vae.py").to(device).eval()
    return (lambda x: vae.encode(x)[0]), vae.decoder, d


def get_judge(x_train, y_train, x_val, y_val, args, out):
    """The judge of OUT/judge.pt if it was trained with these settings, else a new one,
    trained on x_train and saved there."""
    path = out / "judge.pt"
    settings = {"width": 16, "epochs": 3, "seed": args.seed, "subset": args.subset}
    if path.exists():
        ckpt = load_checkpoint(path, "python explore.py", key="judge")
        if ckpt["settings"] == settings:
            print(f"judge: read from {path}")
            judge = load_weights(Judge(settings["width"]), ckpt, "judge", path, "python explore.py")
            return judge.to(x_train.device).eval()
    print(f"judge: training a small CNN on the {len(x_train)} training images")
    judge = train_judge(x_train, y_train, settings["epochs"], seed=args.seed,
                        width=settings["width"], x_val=x_val, y_val=y_val)
    save_checkpoint(path, settings, judge=judge.state_dict())
    return judge


@torch.no_grad()
def encode_all(encode, x, batch_size=1000):
    return torch.cat([encode(xb) for xb in x.split(batch_size)])     # (N, d)


def tsne_subsample(n, args, device):
    """Sorted indices of the test images t-SNE embeds: all n, or a random subsample."""
    generator = torch.Generator().manual_seed(args.seed)
    n_tsne = args.tsne_points if args.tsne_points is not None else (0 if device.type == "cuda" else 3000)
    n_tsne = min(n_tsne, n) if n_tsne else n
    if n_tsne <= max(args.k, args.perplexity):
        raise SystemExit(f"error: t-SNE of {n_tsne} images needs more points than the "
                         f"perplexity ({args.perplexity:g}) and k ({args.k}); raise --tsne-points")
    if n_tsne < n:
        print(f"t-SNE on {n_tsne} of {n} test images, a random subsample "
              "(exact t-SNE is O(n^2) per iteration; --tsne-points 0 embeds all)")
    return torch.randperm(n, generator=generator)[:n_tsne].sort().values.to(device)


# -----------------------------------------------------------------------------
# Results and figures

def print_tables(results, args):
    names = list(results["smoothness"])
    n_tsne = results["tsne_points"]
    print(f"\n{args.k}-NN class accuracy, leave-one-out on {n_tsne} test images")
    print(f"{'representation':22s}" + "".join(f"{m:>8s}" for m in names))
    print(f"{'raw pixels (784-D)':22s}" + f"{results['knn']['raw pixels']:8.3f}" * len(names))
    for rep in ("latent", "PCA 2-D", "t-SNE 2-D"):
        print(f"{rep:22s}" + "".join(f"{results['knn'][m][rep]:8.3f}" for m in names))
    print(f"\nsmoothness over {args.pairs} random pairs: largest step / path length of the "
          f"decoded walk in {args.steps} steps ({1 / args.steps:.3f} = perfectly even, 1 = one jump)")
    print(f"{'model':6s} {'mean':>7s} {'std':>7s} {'median':>7s}")
    for m in names:
        s = results["smoothness"][m]
        print(f"{m:6s} {s['mean']:7.3f} {s['std']:7.3f} {s['median']:7.3f}")
    q = results["samples"]
    print(f"\nsample quality, judged by a CNN of test accuracy {q['judge_test_accuracy']:.3f}, "
          f"{q['images_per_row']} images per row")
    print(f"{'images':56s} {'mean top p':>10s} {'p >= 0.9':>9s} {'classes':>8s} {'Fréchet':>8s}")
    for name, r in q["rows"].items():
        print(f"{name:56s} {r['confidence']:10.3f} {r['confident_share']:9.3f} "
              f"{r['class_entropy_bits']:6.2f} b {r['fd']:8.2f}")
    print(q["verdict"])


def plot_figures(views, x, y, sub, args, out):
    """Figures 3, 9, 4 and 5a from what explore_model returned for each model."""
    n, n_tsne = len(x), len(sub)
    which = (f"all {n:,} test images" if n_tsne == n else f"{n_tsne:,} of {n:,} test images, a "
             "random subsample:\nexact t-SNE costs O(n²) per iteration (--tsne-points 0 for all)")
    scatter_panels([v["tsne"] for v in views.values()], [y[sub]] * len(views),
                   out / "fig03_tsne.png",
                   f"Figure 3: t-SNE of the latent codes (perplexity {args.perplexity:g})\n{which}",
                   [("t-SNE 1", "t-SNE 2")] * len(views),
                   [f"{m} (d = {v['d']}), KL divergence {v['kl']:.3f}" for m, v in views.items()])
    scatter_panels([v["pca"] for v in views.values()], [y] * len(views), out / "fig09_pca.png",
                   f"Figure 9: PCA of the latent codes of {n:,} test images",
                   [[f"principal component {i + 1} ({100 * r:.1f} % of the variance)"
                     for i, r in enumerate(v["ratio"])] for v in views.values()],
                   [f"{m} (d = {v['d']})" for m, v in views.items()])
    samples = {label: s for v in views.values() for label, s in v["samples"].items()}
    plot_grid(torch.stack(list(samples.values())), out / "fig04_ae_samples.png",
              "Figure 4: random latent codes decoded, "
              + ", ".join(f"{m} d = {v['d']}" for m, v in views.items()),
              row_labels=list(samples))
    plot_interpolations([(f"({'ab'[i]}) {m} (d = {v['d']})", v["walk"], v["grid"])
                         for i, (m, v) in enumerate(views.items())],
                        out / "fig05a_ae_interpolation.png",
                        "Figure 5a: interpolation in the AE's latent space"
                        + (" (the VAE's beside it, as Figure 5b)" if "VAE" in views else ""))


def scatter_panels(points, y, path, title, axis_labels, panel_titles):
    """One scatter plot per model, coloured by class, one legend with the class names."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(points), figsize=(1 + 5.5 * len(points), 5.8), squeeze=False)
    for ax, p, yy, labels, panel in zip(axes[0], points, y, axis_labels, panel_titles):
        p, yy = p.cpu(), yy.cpu()
        for c, name in enumerate(CLASSES):
            ax.scatter(p[yy == c, 0], p[yy == c, 1], s=2, color=plt.cm.tab10(c), label=name)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_title(panel, fontsize=10)
    axes[0, -1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), markerscale=5,
                       title="class", frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_interpolations(panels, path, title):
    """Figure 5a: per model, the walk (originals at both ends) above the 10 x 10 grid.
    panels: list of (panel title, walk (steps+3, 1, 28, 28), grid (10, 10, 1, 28, 28))."""
    plt = pyplot()
    from torchvision.utils import make_grid
    fig, axes = plt.subplots(2, len(panels), figsize=(0.5 + 6.5 * len(panels), 9.2),
                             squeeze=False, gridspec_kw={"height_ratios": [1, 7.5]})
    for col, (name, walk, grid) in enumerate(panels):
        steps = len(walk) - 3
        strip = make_grid(walk.cpu(), nrow=len(walk), padding=2, pad_value=1)[0]
        ax = axes[0, col]
        ax.imshow(strip, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([2 + 30 * i + 14 for i in range(len(walk))],
                      ["A"] + [f"{i / steps:.1f}".lstrip("0") if 0 < i < steps else str(i // steps)
                               for i in range(steps + 1)] + ["B"], fontsize=7)
        ax.set_yticks([])
        ax.set_xlabel(f"t, from {WALK[0]} A (t = 0) to {WALK[1]} B (t = 1)", fontsize=8)
        ax.set_title(f"{name}\nwalk in {steps} equal steps, originals at both ends", fontsize=10)
        ax = axes[1, col]
        ax.imshow(make_grid(grid.flatten(0, 1).cpu(), nrow=grid.shape[1], padding=2,
                            pad_value=1)[0], cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"bilinear grid between four test images: {CORNERS[0]} (top left), "
                     f"{CORNERS[1]} (top right),\n{CORNERS[2]} (bottom left), "
                     f"{CORNERS[3]} (bottom right)", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -----------------------------------------------------------------------------
# Command line

def build_parser():
    parser = Parser(description=__doc__.split("\n")[0] + "\n\nReads OUT_DIR/ae.pt (written by "
                    "`python ae.py`) and, where it exists,\nOUT_DIR/vae.pt (`python vae.py`).")
    parser.add_argument("--perplexity", type=positive_float, default=30.0,
                        help="t-SNE perplexity, the effective number of neighbours (the report "
                             "does not state it; 30 is the usual default)")
    parser.add_argument("--tsne-points", type=non_negative_int, default=None,
                        help="test images embedded by t-SNE, a random subsample (0 = all "
                             "10,000); default: all with CUDA, else 3,000, since exact "
                             "t-SNE costs O(n^2) per iteration")
    parser.add_argument("--tsne-iters", type=positive_int, default=1000,
                        help="t-SNE iterations, the first 250 with early exaggeration 12 "
                             "(scikit-learn's defaults)")
    parser.add_argument("--steps", type=positive_int, default=10,
                        help="equal steps of the walk between two images (section 3.4, Figure 5a)")
    parser.add_argument("--pairs", type=positive_int, default=1000,
                        help="random pairs of test images for the smoothness measure")
    parser.add_argument("--k", type=positive_int, default=10,
                        help="neighbours in the k-nearest-neighbour class accuracy")
    add_common_flags(parser)
    return parser


if __name__ == "__main__":
    run(main)

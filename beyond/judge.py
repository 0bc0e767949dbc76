"""Beyond the report: a judge of images, for the third claim (beyond/samples.py runs it).

A small CNN classifier trained only on the 48,000 training images (its weights share nothing
with the AE or the VAE) looks at a set of images and gives:
  recognisability  its mean top softmax probability, and the share of images at >= 0.9;
  diversity        the entropy in bits of the histogram of its predicted classes
                   (log2 10 = 3.32: all ten classes equally often; 0: one class);
  Frechet distance between its 128 penultimate features of the images and those of the
                   10,000 test images: the FID of Heusel et al. (2017) with this judge in
                   place of Inception, as is usual on MNIST-sized data; 0 for the same
                   distribution.
The judge is cached in OUT/judge.pt, keyed by its settings, the seed and the data it was
trained on, so that a rerun on the same data skips its training.
"""
import hashlib
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import batches
from plumbing.checkpoints import save_checkpoint

JUDGE = {"width": 16, "epochs": 3}  # its settings; with seed, subset and data, its cache's key


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
# The judge, trained once and cached

def data_key(x, y):
    """A short hash of the images x (N, 1, 28, 28) in [0, 1] and labels y (N,): what the
    judge was trained on, whichever --data-dir they came from."""
    pixels = (x * 255).round().to(torch.uint8).cpu().numpy().tobytes()
    return hashlib.sha256(pixels + y.cpu().numpy().tobytes()).hexdigest()[:16]


def get_judge(x_train, y_train, x_val, y_val, seed, subset, path):
    """The judge cached in `path` if it was trained with these settings on these images,
    else a new one, trained on x_train and cached there. The file is only a cache: one
    that is damaged, of another model or of another shape is said in one line and replaced."""
    settings = {**JUDGE, "seed": seed, "subset": subset, "data": data_key(x_train, y_train)}
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

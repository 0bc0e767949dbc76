"""Beyond the report: a judge of images, for the third claim (beyond/samples.py runs it).

A small CNN trained only on the training images (it shares no weight with the AE or the VAE)
gives of a set of images its mean top softmax probability and the share at >= 0.9, the entropy
in bits of its predicted classes (log2 10 = 3.32: all ten equally often), and the Frechet
distance between its 128 penultimate features of the images and of the test images (the FID of
Heusel et al. (2017) with this judge for Inception, as is usual on MNIST-sized data). It is
cached in OUT/judge.pt, keyed by its settings, the seed and its data.
"""
import hashlib
import math

import torch
import torch.nn as nn

from classify import fit
from plumbing.checkpoints import save_checkpoint

JUDGE = {"width": 16, "epochs": 3}  # its settings; with seed, subset and data, its cache's key


class Judge(nn.Module):
    """x (B, 1, 28, 28) -> logits (B, 10); features(x) -> (B, 128), after the ReLU. Stride-2
    convolutions, not conv + max-pool: a third of the time per step on a 2-core CPU."""

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
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def train_judge(x_train, y_train, epochs=3, batch_size=128, seed=0, lr=3e-3, width=16,
                x_val=None, y_val=None):
    """A Judge trained by classify.py's loop with Adam on the cross-entropy, the lr falling
    linearly to 0 (a few epochs then reach what a constant one needs more for); prints x_val's
    accuracy after each epoch."""
    torch.manual_seed(seed)                   # initial weights and dropout masks
    judge = Judge(width).to(x_train.device)
    optimizer = torch.optim.Adam(judge.parameters(), lr=lr)
    steps = epochs * math.ceil(len(x_train) / batch_size)
    # at step k (one a batch), lr_k = lr (1 - k / steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1 - k / steps)
    val = None if x_val is None else (x_val, y_val)
    fit(judge, [optimizer], x_train, y_train, epochs, batch_size, seed, [schedule], val=val,
        name=None if val is None else "judge")  # seed: the batch order
    return judge.eval()


@torch.no_grad()
def judge_outputs(judge, images, batch_size=1000):
    """Logits (N, 10) and penultimate features (N, 128) of images (N, 1, 28, 28), dropout off."""
    judge.eval()
    logits, feats = [], []
    for xb in images.split(batch_size):
        f = judge.features(xb)                                   # (B, 128)
        logits.append(judge.head(f))                             # (B, 10)
        feats.append(f)
    return torch.cat(logits), torch.cat(feats)


def feature_stats(features):
    """Mean mu (D,) and covariance S = sum_i (f_i - mu)(f_i - mu)^T / (N - 1) (D, D) of the
    rows f_i of features (N, D), in float64."""
    f = features.double()
    return f.mean(0), torch.cov(f.T)


def frechet_distance(mu1, S1, mu2, S2):
    """Frechet (2-Wasserstein squared) distance between N(mu1, S1) and N(mu2, S2):
    ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), in float64."""
    mu1, S1, mu2, S2 = (t.double() for t in (mu1, S1, mu2, S2))
    # (S1 S2)^(1/2) need not be symmetric, but its eigenvalues are those of the symmetric
    # PSD matrix M = S1^(1/2) S2 S1^(1/2) (the same characteristic polynomial), so
    #   Tr (S1 S2)^(1/2) = sum_i sqrt(eigenvalue_i(M))
    # S1^(1/2) = V diag(sqrt(lam)) V^T from S1 = V diag(lam) V^T (rounding's tiny lam < 0: 0)
    lam, V = torch.linalg.eigh(S1)
    R = (V * lam.clamp_min(0).sqrt()) @ V.T
    M = R @ S2 @ R
    M = (M + M.T) / 2                      # symmetric again after rounding
    trace_sqrt = torch.linalg.eigvalsh(M).clamp_min(0).sqrt().sum()
    fd = (mu1 - mu2).square().sum() + S1.trace() + S2.trace() - 2 * trace_sqrt
    # a singular S1 or S2 can leave a rounding error ~ sqrt(1e-16) below 0
    return max(fd.item(), 0.0)


def class_entropy_bits(pred, n_classes=10):
    """Entropy in bits of the histogram of predicted classes pred (N,):
    H = -sum_c p_c log2 p_c, with 0 log 0 = 0."""
    p = torch.bincount(pred, minlength=n_classes).double() / len(pred)     # (10,)
    p = p[p > 0]
    return -(p * p.log2()).sum().item() + 0.0  # + 0.0: 0.0, not -0.0, for a single class


def judge_scores(judge, images, test_features):
    """The judge's scores of images (N, 1, 28, 28): confidence, confident_share,
    class_entropy_bits, and fd against the features (M, 128) of the test images."""
    logits, feats = judge_outputs(judge, images)
    top, pred = logits.softmax(1).max(1)                                  # (N,), (N,)
    return {"confidence": top.mean().item(),
            "confident_share": (top >= 0.9).float().mean().item(),
            "class_entropy_bits": class_entropy_bits(pred),
            "fd": frechet_distance(*feature_stats(feats), *feature_stats(test_features))}


def structureless_images(x_train, n, generator):
    """n images with the per-pixel mean and variance of x_train (N, 1, 28, 28) but no
    structure: each pixel an independent Gaussian, clipped to [0, 1]."""
    mean, std = x_train.mean(0), x_train.std(0)                            # (1, 28, 28)
    eps = torch.randn(n, *mean.shape, generator=generator).to(x_train.device)
    return (mean + std * eps).clamp(0, 1)                                  # (n, 1, 28, 28)


def data_key(x, y):
    """A short hash of the images x (N, 1, 28, 28) in [0, 1] and labels y (N,): what the
    judge was trained on, whichever --data-dir they came from."""
    pixels = (x * 255).round().to(torch.uint8).cpu().numpy().tobytes()
    return hashlib.sha256(pixels + y.cpu().numpy().tobytes()).hexdigest()[:16]


def get_judge(x_train, y_train, x_val, y_val, seed, subset, path):
    """The judge cached in `path` if trained with these settings on these images, else a new one
    trained on x_train and cached; a damaged or foreign cache is said in one line and replaced."""
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

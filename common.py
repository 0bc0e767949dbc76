"""What several lessons share: the split and the batches (section 2.2), the encoder and decoder
of Tables 1 and 2 with their initialisation, the optimiser (section 2.1), PCA, the bilinear
grid and the two calls that load the data. Importing it reads nothing and makes no folder;
what keeps the scripts safe to run (flags, files, checkpoints) is in plumbing/."""
import math

import torch
import torch.nn as nn

from plumbing.data import read_fashion_mnist

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # label i is CLASSES[i]
N_VAL = 12_000          # section 2.2: 20 % of the 60,000 training images for validation
SPLIT_SEED = 2022       # fixes the 48,000 / 12,000 split; never changes with --seed
CORNERS = ("Ankle boot", "Trouser", "Pullover", "Bag")  # Figures 5a, 5b: TL, TR, BL, BR


# --- The split and the batches (section 2.2) ---------------------------------

def split_indices(n, n_val=N_VAL):
    """The fixed split of section 2.2: (train indices, validation indices) of the training
    set. Its generator has its own seed, so the split never moves with --seed."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return perm[n_val:], perm[:n_val]


def batches(n, batch_size, device, shuffle=True, generator=None):
    """Index tensors of one epoch: slices of a shuffled permutation (no DataLoader)."""
    order = (torch.randperm(n, generator=generator).to(device) if shuffle
             else torch.arange(n, device=device))
    return order.split(batch_size)


@torch.no_grad()
def batched(f, x, batch_size=1000):
    """f applied to x in batches, without gradients: an encoder over 10,000 images, say."""
    return torch.cat([f(xb) for xb in x.split(batch_size)])


def diverged(*losses):
    """The one divergence rule of every training loop: a loss that is not a finite number.
    What it means (stop, exit, prune the trial) is the caller's choice."""
    return not all(math.isfinite(v) for v in losses)


def stop_if_diverged(histories, fix="lower the learning rate (--lr)"):
    """Stop a script whose run diverged ({what ran: its history}) in one line, having written
    nothing: the earlier results and figures stay as they were."""
    runs = [f"{name} diverged at epoch {h['diverged']}" for name, h in histories.items()
            if h["diverged"] is not None]
    if runs:
        raise SystemExit(f"error: {' and '.join(runs)}; {fix}. Nothing was written")


# --- The encoder of Table 1 and the decoder of Table 2 -----------------------

def conv_stack():
    """The three conv layers of Table 1, flattened: (B, 1, 28, 28) -> (B, 288). Table 1 leaves
    the activation after conv 3 blank: ReLU, as the course's lab code did, or conv 3 and linear
    layer 1 would compose into one linear map. The VAE of section 2.5 reuses this stack."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 4, stride=2, padding=1), nn.ReLU(),    # (B, 8, 14, 14)
        nn.Conv2d(8, 16, 4, stride=2, padding=1), nn.ReLU(),   # (B, 16, 7, 7)
        nn.Conv2d(16, 32, 3, stride=2, padding=0), nn.ReLU(),  # (B, 32, 3, 3)
        nn.Flatten(),                                          # (B, 288)
    )


def kaiming_init(model):
    """Section 2.1: Kaiming (He) initialisation of every weight, biases at zero."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model


class Encoder(nn.Module):
    """Table 1: x (B, 1, 28, 28) -> h (B, d). Table 1 prints both linear layers as "288 -> ...";
    the second is 64 -> d. As the table says, dropout dr follows both, the code h included."""

    def __init__(self, d, dropout):
        super().__init__()
        self.d = d
        self.conv = conv_stack()
        self.linear = nn.Sequential(
            nn.Linear(288, 64), nn.ReLU(), nn.Dropout(dropout),  # (B, 64)
            nn.Linear(64, d), nn.Dropout(dropout),                # (B, d)
        )
        kaiming_init(self)

    def forward(self, x):
        return self.linear(self.conv(x))


class Decoder(nn.Module):
    """Table 2: h (B, d) -> x_hat (B, 1, 28, 28), pixels in (0, 1) through the Sigmoid."""

    def __init__(self, d, dropout=0.0):
        super().__init__()
        self.linear = nn.Sequential(
            nn.Linear(d, 64), nn.ReLU(), nn.Dropout(dropout),     # (B, 64)
            nn.Linear(64, 288), nn.ReLU(), nn.Dropout(dropout),   # (B, 288)
        )
        self.deconv = nn.Sequential(
            nn.Unflatten(1, (32, 3, 3)),                                    # (B, 32, 3, 3)
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=0), nn.ReLU(),  # (B, 16, 7, 7)
            nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.ReLU(),   # (B, 8, 14, 14)
            nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1), nn.Sigmoid(), # (B, 1, 28, 28)
        )
        kaiming_init(self)

    def forward(self, h, logits=False):
        """x_hat, or with logits=True the values before the Sigmoid: a Bernoulli loss from
        logits is exact, and lets a NaN reach the loop's check (binary_cross_entropy fails)."""
        y = self.deconv[:-1](self.linear(h))   # every layer but the Sigmoid
        return y if logits else self.deconv[-1](y)


def make_optimizer(name, params, lr, weight_decay):
    """Adam or SGD (section 2.1), weight decay alpha as L2 penalty."""
    if name not in ("Adam", "SGD"):
        raise ValueError(f"unknown optimiser {name!r} (Adam or SGD)")
    return getattr(torch.optim, name)(params, lr=lr, weight_decay=weight_decay)


# --- PCA (ae.py's baseline, Figure 9), the bilinear grid (Figures 5a, 5b) ----

def pca(x, k):
    """Principal components of the rows of x (N, D): (mean (D,), components (k, D),
    explained-variance ratio (k,)), from the eigen-decomposition of the covariance in
    float64 (on the CPU for mps, which has none); the results are on x's device."""
    device = x.device
    x = (x.cpu() if device.type == "mps" else x).detach().double()
    mean = x.mean(0)
    xc = x - mean
    cov = xc.T @ xc / (len(x) - 1)               # (D, D)
    eigval, eigvec = torch.linalg.eigh(cov)      # ascending order
    eigval, eigvec = eigval.flip(0), eigvec.flip(1)
    ratio = eigval[:k] / eigval.sum()
    return mean.float().to(device), eigvec[:, :k].T.float().to(device), ratio.float().to(device)


def bilinear(corners, n=10):
    """The n x n grid between four latent codes corners (4, d): top left, top right, bottom
    left, bottom right (Figures 5a and 5b). Returns (n, n, d), rows going down in v:
        z(u, v) = (1-u)(1-v) z_tl + u(1-v) z_tr + (1-u) v z_bl + u v z_br,  u, v in [0, 1]"""
    t = torch.linspace(0, 1, n, device=corners.device)
    v, u = torch.meshgrid(t, t, indexing="ij")                                   # (n, n)
    weights = torch.stack([(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v], -1)  # (n, n, 4)
    return weights @ corners


# --- The data: Fashion-MNIST on the device, split as section 2.2 says --------

def to_device(images, labels, device):
    # uint8 (N, 28, 28) -> float in [0, 1], (N, 1, 28, 28), on the device once
    x = images.to(device).unsqueeze(1).float().div_(255)
    return x, labels.to(device)


def load_train_val(data_dir, device, subset=0):
    """((x_train, y_train), (x_val, y_val)): 48,000 / 12,000 images on `device`, or the
    first `subset` / subset // 4 of each part."""
    images, labels = read_fashion_mnist(data_dir, train=True, subset=subset)
    n_val = min(N_VAL, len(images) // 5)  # a small synthetic set still splits 80 / 20
    train_idx, val_idx = split_indices(len(images), n_val)
    if subset > len(train_idx):
        raise SystemExit(f"error: --subset {subset} is more than the {len(train_idx)} "
                         "training images (0 = all)")
    if subset:
        train_idx, val_idx = train_idx[:subset], val_idx[:max(1, subset // 4)]
    return (to_device(images[train_idx], labels[train_idx], device),
            to_device(images[val_idx], labels[val_idx], device))


def load_test(data_dir, device, subset=0):
    """(x_test, y_test): the 10,000 test images, for scripts that report test results."""
    images, labels = read_fashion_mnist(data_dir, train=False, subset=subset)
    n = max(1, subset // 4) if subset else len(images)
    return to_device(images[:n], labels[:n], device)


def first_of_classes(y, names):
    """Indices of the first image of each class in `names`, never one image twice for a
    class named twice (["Bag"] * 8: the first eight bags); a class missing from a small
    subset is replaced by the first image not chosen yet (by image 0 if there is none)."""
    chosen = []
    for name in names:
        found = (y == CLASSES.index(name)).nonzero().flatten().tolist()
        fallback = [i for i in range(len(y)) if i not in chosen] + [0]
        chosen.append(next((i for i in found if i not in chosen), fallback[0]))
    return chosen


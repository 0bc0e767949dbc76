"""What every script shares. First what the report teaches: the split and the batches of
section 2.2, the encoder and decoder of Tables 1 and 2, PCA and the bilinear grid. Then,
below a banner, the plumbing a student may skip: flags, data files, atomic writes,
results files, checkpoints, figures.

Importing this module does nothing by itself: no data is read, no folder is made.
"""
import argparse
import gzip
import json
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # label i is CLASSES[i]
N_VAL = 12_000          # section 2.2: 20 % of the 60,000 training images for validation
SPLIT_SEED = 2022       # fixes the 48,000 / 12,000 split; never changes with --seed
CORNERS = ("Ankle boot", "Trouser", "Pullover", "Bag")  # Figures 5a, 5b: TL, TR, BL, BR


# -----------------------------------------------------------------------------
# The split and the batches (section 2.2)

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


# -----------------------------------------------------------------------------
# The encoder of Table 1 and the decoder of Table 2

def conv_stack():
    """The three conv layers of Table 1, flattened: (B, 1, 28, 28) -> (B, 288).

    Table 1 leaves the activation after conv layer 3 blank. We use ReLU, as the course's
    lab code did: without it conv 3 and linear layer 1 would compose into one linear map.
    The VAE of section 2.5 reuses this stack.
    """
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
    """Table 1: x (B, 1, 28, 28) -> h (B, d).

    Table 1 prints both linear layers as "288 -> ..."; the second is 64 -> d. As the
    table says, dropout dr follows both linear layers, the code h included.
    """

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
        """x_hat, or with logits=True the values before the Sigmoid: a Bernoulli loss
        computed from logits is exact, and passes a NaN on to the training loop's check
        where binary_cross_entropy on x_hat would fail."""
        y = self.deconv[:-1](self.linear(h))   # every layer but the Sigmoid
        return y if logits else self.deconv[-1](y)


def make_optimizer(name, params, lr, weight_decay):
    """Adam or SGD (section 2.1), weight decay alpha as L2 penalty."""
    if name == "Adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "SGD":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    raise SystemExit(f"error: unknown optimiser {name!r} (Adam or SGD)")


# -----------------------------------------------------------------------------
# PCA (the linear baseline of ae.py, Figure 9) and the bilinear grid (Figures 5a, 5b)

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


# =============================================================================
# Plumbing. A student may stop reading here: what follows makes the scripts safe to run
# (flags, data files, atomic writes, results files, checkpoints, figures), and teaches
# nothing of the report.
# =============================================================================

DATA_ENV = "FASHION_MNIST_DIR"                      # environment variable for --data-dir
MIN_SUBSET = 40  # PCA, the 10-Gaussian mixture and a class of each need a few images
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist
RAW_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


# -----------------------------------------------------------------------------
# Command line: the flags every script has, spelled the same way

class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default, unless it is None or False (the help text then says what
    it is)."""

    def _get_help_string(self, action):
        hidden = action.default is None or action.default is False  # not 0: 0 == False
        if hidden or action.default == argparse.SUPPRESS or "default:" in action.help:
            return action.help
        return action.help + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (exit 2), not a usage block."""

    def __init__(self, **kwargs):
        super().__init__(allow_abbrev=False,  # so that "--quick" is always spelled out
                         formatter_class=HelpFormatter, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not value >= 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def probability(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def subset_size(text):
    value = int(text)
    if value != 0 and value < MIN_SUBSET:
        raise argparse.ArgumentTypeError(
            f"must be 0 (all) or at least {MIN_SUBSET}, so that the validation and test parts "
            f"(N/4 each) hold {MIN_SUBSET // 4} images or more; got {text}")
    return value


def seed_value(text):
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in 0 .. 2**32 - 1, got {text}")
    return value


def optimizer_name(text):
    if text not in ("Adam", "SGD"):
        raise argparse.ArgumentTypeError(f"must be Adam or SGD, got {text!r}")
    return text


# The check of every value the report's tables hold, for a flag and for a --params file alike
PARAM_TYPES = {"d": positive_int, "optimizer": optimizer_name, "lr": positive_float,
               "dropout": probability, "weight_decay": non_negative_float,
               "no1": positive_int, "no2": positive_int, "mlp_optimizer": optimizer_name,
               "mlp_lr": positive_float, "mlp_dropout": probability,
               "mlp_weight_decay": non_negative_float}


def add_common_flags(parser):
    parser.add_argument("--quick", action="store_true",
                        help="tiny subset and few epochs, written to outputs/quick/: for tests "
                             "and a first look; flags given explicitly still win")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"],
                        help="where to compute; auto picks cuda, then mps, then cpu")
    parser.add_argument("--seed", type=seed_value, default=0,
                        help="seed for every random choice (initial weights, batch order, "
                             "subsamples); the train/validation split never moves with it")
    parser.add_argument("--data-dir", default=os.environ.get(DATA_ENV, "data"),
                        help=f"folder holding FashionMNIST/raw/ (or set ${DATA_ENV}); if the "
                             "files are not there, Debian's dataset-fashion-mnist is "
                             "decompressed into it, else torchvision downloads them")
    parser.add_argument("--out-dir", default="outputs",
                        help="where figures, results and checkpoints go (default: outputs, "
                             "or outputs/quick with --quick)")
    parser.add_argument("--subset", type=subset_size, default=0,
                        help="use only the first N training and N/4 validation and test "
                             "images (0 = all: 48,000 / 12,000 / 10,000)")


def parse_args(parser, quick, argv=None):
    """Parse the command line; with --quick, the values in `quick` become the defaults,
    so that a flag given explicitly still wins over what --quick sets."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # argparse fills in a default only where the namespace has no value yet
    # (a quick run writes to outputs/quick/, never over the results of a full run)
    namespace = (argparse.Namespace(out_dir="outputs/quick", **quick) if "--quick" in argv
                 else None)
    return parser.parse_args(argv, namespace)


def print_settings(args):
    print("settings: " + ", ".join(f"{k}={v}" for k, v in vars(args).items()))


def run(main):
    """Run a script's main(). Ctrl-C (SIGINT) and SIGTERM are one line and exit status 130
    or 143, not a traceback: every file a script writes (results, checkpoints, figures,
    tables) goes through write_atomically, so an interrupt leaves nothing half-written."""
    signal.signal(signal.SIGTERM, interrupt)
    try:
        main()
    except KeyboardInterrupt as e:
        print("interrupted; nothing half-written", file=sys.stderr)
        sys.exit(128 + (e.args[0] if e.args else signal.SIGINT))


def interrupt(signum, frame):
    """SIGTERM handled as Ctrl-C is: the same KeyboardInterrupt, carrying the signal."""
    raise KeyboardInterrupt(signum)


# -----------------------------------------------------------------------------
# Device, seed, output folder

def pick_device(name):
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": torch.backends.mps.is_available()}
    if not available[name]:
        raise SystemExit(f"error: --device {name} is not available on this machine "
                         "(use --device auto or cpu)")
    return torch.device(name)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def out_dir(path):
    """The output folder, made if need be, and checked to be writable now rather than
    after a long training run."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # removed again, even on Ctrl-C
            pass
    except OSError as e:
        raise SystemExit(f"error: cannot write to the output folder {path} ({e.strerror}); "
                         "choose another --out-dir")
    return path


def write_atomically(path, write):
    """Call write(tmp) on a temporary file of its own beside `path`, then rename it to
    `path`: a crash, or a second process writing at the same moment, never leaves half a
    file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        os.close(fd)
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private (0600); give the usual mode
        os.replace(tmp, path)
    except OSError as e:  # a full disk, a read-only folder: the earlier file stays whole
        raise SystemExit(f"error: cannot write {path} ({(e.strerror or str(e)).lower()}); "
                         "the earlier file, if any, is unchanged")
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def save_json(path, obj):
    write_atomically(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2) + "\n"))


def save_text(path, text):
    write_atomically(path, lambda tmp: Path(tmp).write_text(text))


def save_figure(fig, path):
    """Every figure goes to its file through here: atomically, then closed."""
    write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    pyplot().close(fig)


def read_json(path, fix):
    """The JSON object (a dict) at path. A missing or damaged file is a one-line error, not a
    traceback, that ends with `fix`: what to do about it. Every results file is read here."""
    path = Path(path)
    if not path.exists():
        raise SystemExit(f"error: {path} is missing; {fix}")
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError) as e:
        raise SystemExit(f"error: cannot read {path} ({str(e).splitlines()[0]}); {fix}")
    if not isinstance(data, dict):
        raise SystemExit(f"error: {path} is not a results file; {fix}")
    return data


def check_results(path):
    """Refuse a damaged results file at path now, before any training, not at the end."""
    if Path(path).exists():
        read_json(path, "move it away or use another --out-dir")
    return path


def update_results(path, entries):
    """Write `entries` (a dict) into the results file at path, keeping every other entry:
    the file is read again just before the atomic write, so that two runs into one folder
    (ae.py --part compare and --part refit at once) each keep the other's entry."""
    path = Path(path)
    results = read_json(path, "move it away or use another --out-dir") if path.exists() else {}
    save_json(path, {**results, **entries})


def add_params_flag(parser, study):
    parser.add_argument("--params", metavar="FILE", default=None,
                        help=f"train with the tuned values in FILE (tuned_{study}.json, "
                             f"written by `python tune.py {study}`) instead of the report's "
                             "table; a flag given on the command line wins over both")


def resolve_params(args, table, study):
    """The values a run trains with and where they came from: the report's `table`, then
    the file --params names over it, then every flag given on the command line (a flag
    left at None was not given). Printed by the caller and saved beside the results."""
    params, sources = dict(table), []
    if args.params:
        params.update(read_params(args.params, study, table))
        sources.append(str(args.params))
    given = {k: getattr(args, k) for k in table if getattr(args, k, None) is not None}
    if given:
        params.update(given)
        sources.append(f"command line {sorted(given)}")
    return params, " + ".join(sources) or "report"


def read_params(path, study, table):
    """The values of `table`'s keys in a tuned-value file of tune.py, each checked as its
    flag is: a missing, damaged or foreign file, or a bad value, is one line.

    The file's format, written by tune.py:
        {"study": NAME, "params": {...}, "value": best validation value,
         "direction": "minimize" | "maximize",
         "trials": {"complete": n, "pruned": n, "failed": n}, "settings": {...}}
    """
    fix = f"pass a file written by `python tune.py {study}`"
    data = read_json(path, fix)
    if data.get("study") not in (study, None):
        raise SystemExit(f"error: {path} holds the tuned values of `tune.py {data['study']}`, "
                         f"not of `tune.py {study}`; {fix}")
    params = data.get("params")
    if not isinstance(params, dict):
        raise SystemExit(f"error: {path} is not a tuned-value file (no params); {fix}")
    missing = set(table) - set(params)
    if missing:
        raise SystemExit(f"error: {path} lacks {sorted(missing)}; {fix}")
    return {k: check_param(path, k, params[k]) for k in table}


def check_param(path, key, value):
    """A value read from a file passes the check of its flag (PARAM_TYPES), or is one line."""
    check = PARAM_TYPES[key]
    kind = str if check is optimizer_name else int if check is positive_int else (int, float)
    try:
        if isinstance(value, bool) or not isinstance(value, kind):
            raise argparse.ArgumentTypeError(f"must be {'a name' if kind is str else 'a number'}"
                                             f", got {value!r}")
        return check(str(value))
    except (argparse.ArgumentTypeError, ValueError) as e:
        raise SystemExit(f"error: {path}: {key} {e}; fix the file or rerun tune.py")


# -----------------------------------------------------------------------------
# Data: Fashion-MNIST as tensors on the device

def find_data(data_dir):
    """Make sure ROOT/FashionMNIST/raw/ holds the four IDX files; return ROOT.

    Looked for in this order: the folder itself; Debian's package (decompressed into the
    folder: its .gz files are re-compressed, so torchvision's md5 check of the .gz would
    fail, but the contents are the real data); torchvision's download.
    """
    root = Path(data_dir)
    raw = root / "FashionMNIST" / "raw"
    if all((raw / f).exists() for f in RAW_FILES):
        return root
    if all((DEBIAN_DIR / f"{f}.gz").exists() for f in RAW_FILES):
        print(f"decompressing Debian's Fashion-MNIST ({DEBIAN_DIR}) into {raw}/")
        try:
            raw.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SystemExit(f"error: cannot make the data folder {raw} ({e.strerror}); "
                             "choose another --data-dir")
        for f in RAW_FILES:
            if (raw / f).exists():
                continue
            tmp = raw / f"{f}.tmp"
            reinstall = "reinstall it: apt-get install --reinstall dataset-fashion-mnist"
            try:
                with gzip.open(DEBIAN_DIR / f"{f}.gz") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (OSError, EOFError) as e:
                tmp.unlink(missing_ok=True)
                raise SystemExit(f"error: {DEBIAN_DIR / f}.gz is corrupt ({e}); {reinstall}")
            if not is_idx(tmp, 3 if "images" in f else 1):  # valid gzip, wrong contents
                tmp.unlink()
                raise SystemExit(f"error: {DEBIAN_DIR / f}.gz does not hold an IDX file of "
                                 f"Fashion-MNIST; {reinstall}")
            os.replace(tmp, raw / f)
        return root
    from torchvision.datasets import FashionMNIST
    try:
        for train in (True, False):
            FashionMNIST(root, train=train, download=True)
        return root
    except Exception as e:  # no network, a mirror down, a bad checksum ...
        reason = str(e).strip().splitlines()[-1][:120]
        raise SystemExit(
            f"error: Fashion-MNIST not found in {raw}/ and the download failed ({reason}). "
            f"Get it one of three ways: (1) put the four IDX files in {raw}/ (or pass "
            f"--data-dir / set ${DATA_ENV}); (2) apt-get install dataset-fashion-mnist; "
            "(3) run once with internet access, and torchvision downloads it")


def is_idx(path, n_dims):
    """An IDX file is a 4-byte magic (0, 0, 8 = uint8, n_dims), n_dims big-endian sizes,
    then exactly their product of bytes."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        header = fh.read(4 + 4 * n_dims)
    if len(header) != 4 + 4 * n_dims or header[:4] != bytes([0, 0, 8, n_dims]):
        return False
    dims = [int.from_bytes(header[4 + 4 * i:8 + 4 * i], "big") for i in range(n_dims)]
    return size == len(header) + int(np.prod(dims))


def check_idx(path, n_dims):
    """A file that is not a whole IDX file is named in one clear error."""
    if not is_idx(path, n_dims):
        raise SystemExit(f"error: {path} is truncated or corrupt ({path.stat().st_size} "
                         "bytes); delete it and run again to fetch it anew")


def read_fashion_mnist(data_dir, train):
    """(images uint8 (N, 28, 28), labels int64 (N,)), read by torchvision's FashionMNIST."""
    from torchvision.datasets import FashionMNIST
    root = find_data(data_dir)
    raw = root / "FashionMNIST" / "raw"
    prefix = "train" if train else "t10k"
    check_idx(raw / f"{prefix}-images-idx3-ubyte", 3)
    check_idx(raw / f"{prefix}-labels-idx1-ubyte", 1)
    ds = FashionMNIST(root, train=train, download=False)
    if ds.data.shape[1:] != (28, 28) or len(ds.data) != len(ds.targets) or ds.targets.max() > 9:
        raise SystemExit(f"error: the {prefix} files in {raw} are not Fashion-MNIST "
                         "(image size, counts or labels are off); delete them")
    return ds.data, ds.targets


def to_device(images, labels, device):
    # uint8 (N, 28, 28) -> float in [0, 1], (N, 1, 28, 28), on the device once
    x = images.to(device).unsqueeze(1).float().div_(255)
    return x, labels.to(device)


def load_train_val(data_dir, device, subset=0):
    """((x_train, y_train), (x_val, y_val)): 48,000 / 12,000 images on `device`, or the
    first `subset` / subset // 4 of each part."""
    images, labels = read_fashion_mnist(data_dir, train=True)
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
    images, labels = read_fashion_mnist(data_dir, train=False)
    if subset:
        images, labels = images[:max(1, subset // 4)], labels[:max(1, subset // 4)]
    return to_device(images, labels, device)


# -----------------------------------------------------------------------------
# Checkpoints: state_dicts and plain settings, nothing that runs code when loaded

def save_checkpoint(path, settings, **state_dicts):
    """Write {"settings": {...}, name: state_dict, ...} atomically (temp file + rename).
    Returns its fingerprint, for the results entry that describes it."""
    payload = {"settings": settings,
               **{k: {n: t.detach().cpu() for n, t in sd.items()} for k, sd in state_dicts.items()}}
    write_atomically(path, lambda tmp: torch.save(payload, tmp))
    return fingerprint(path)


def fingerprint(path):
    """{"bytes": size, "sha256": hash} of a file: a results entry records that of the
    checkpoint it describes, and readers compare (a run stopped between the two writes,
    or two runs into one folder, leave them apart)."""
    import hashlib
    data = Path(path).read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


WEIGHTS = {"encoder": "the autoencoder's (ae.py)", "vae": "the VAE's (vae.py)",
           "judge": "beyond/judge.py's judge"}  # by key


def command_for(made_by, path):
    """The command that writes the file `path`: `made_by` with the --quick or --out-dir
    that makes it write into path's folder."""
    where = {Path("outputs"): "", Path("outputs/quick"): " --quick"}
    return made_by + where.get(Path(path).parent, f" --out-dir {Path(path).parent}")


def load_checkpoint(path, made_by, key=None):
    """The checkpoint dict, loaded with weights_only=True. `made_by` is the command that
    writes it, named in the error when the file is missing, unreadable, or holds other
    weights than `key` ("encoder": an autoencoder's, "vae": a VAE's)."""
    path = Path(path)
    command = command_for(made_by, path)
    writes = made_by.split()[-1].removesuffix(".py") + ".pt" if made_by else path.name
    if path.name == writes:
        fix = f"run `{command}` to write it"
    else:
        fix = f"`{command}` writes {path.parent / writes}, not {path.name}"
    if not path.exists():
        raise SystemExit(f"error: {path} not found; {fix}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise SystemExit(f"error: cannot read {path} (truncated, not a PyTorch file, or "
                         f"not only tensors and plain settings: {type(e).__name__}); {fix}")
    if not isinstance(ckpt, dict) or "settings" not in ckpt:
        raise SystemExit(f"error: {path} is not a checkpoint of this project; {fix}")
    if key is not None and key not in ckpt:
        other = next((WEIGHTS[k] for k in WEIGHTS if k in ckpt), None)
        what = f"is {other}, not {WEIGHTS[key]}" if other else f"holds no {key!r} weights"
        raise SystemExit(f"error: {path} {what}; {fix}")
    return ckpt


def load_weights(model, ckpt, key, path, made_by):
    """Load ckpt[key] into model; a mismatch is one clear line, not a page of shapes."""
    try:
        model.load_state_dict(ckpt[key])
    except (KeyError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0][:160]
        raise SystemExit(f"error: {path} does not match this model ({key}: {first}); "
                         f"rerun `{command_for(made_by, path)}`")
    return model


def read_ae(path):
    """(checkpoint, encoder, decoder) of ae.py's checkpoint at path, checked to hold the
    settings and weights that this code can build (classify.py, tune.py, explore.py)."""
    made_by = "python ae.py"
    ckpt = load_checkpoint(path, made_by, key="encoder")  # the VAE's is refused here
    missing = {"d", "dropout", "optimizer", "lr", "weight_decay"} - set(ckpt["settings"])
    if missing:
        raise SystemExit(f"error: {path} lacks the settings {sorted(missing)}; rerun "
                         f"`{command_for(made_by, path)}`")
    s = ckpt["settings"]
    encoder = load_weights(Encoder(s["d"], s["dropout"]), ckpt, "encoder", path, made_by)
    decoder = load_weights(Decoder(s["d"], s["dropout"]), ckpt, "decoder", path, made_by)
    return ckpt, encoder, decoder


# -----------------------------------------------------------------------------
# An Optuna storage (tune.py): heartbeats, a URL that may be printed, one-line errors

def storage_urls(out, given):
    """(the URL to open, the URL to print and save): --storage with its password hidden,
    or sqlite:///OUT/optuna.db with the path escaped (a folder a?b or %41 stays itself)."""
    import sqlalchemy
    if given is None:
        url = sqlalchemy.engine.URL.create("sqlite", database=str(Path(out) / "optuna.db"))
        return url.render_as_string(hide_password=False), url.render_as_string()
    try:
        return given, sqlalchemy.make_url(given).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:  # not a URL at all: Optuna will say so
        return given, given


HEARTBEAT_SECONDS = 10  # a running trial writes a heartbeat to the storage this often ...
GRACE_SECONDS = 120     # ... and Optuna fails it as stale (its worker died) after this long


def open_storage(url, shown):
    """The RDB storage at url, with heartbeats: a running trial writes one every
    HEARTBEAT_SECONDS, and Optuna fails it as stale (its worker was killed) GRACE_SECONDS
    later. Workers that start together on a new database all create its tables; those
    that lose that race find them on a second try."""
    import optuna
    for attempt in range(3):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS,
                                                  grace_period=GRACE_SECONDS)
        except Exception as e:
            if attempt == 2 or isinstance(e, ImportError):
                raise SystemExit(storage_error(shown, e))
            time.sleep(1 + attempt)


def storage_error(shown, e):
    """One line for a storage that cannot be opened or written, from the innermost cause
    (Optuna wraps a read-only file in "invalid data in the commit")."""
    causes = [e]
    while causes[-1].__cause__ or causes[-1].__context__:
        causes.append(causes[-1].__cause__ or causes[-1].__context__)
    if any("readonly" in str(c).lower() for c in causes):
        return (f"error: the storage {shown}, or its folder, is read-only; choose another "
                "--storage or --out-dir")
    if isinstance(e, ImportError):  # Optuna hides the missing module in the cause
        return (f"error: --storage {shown} needs a database driver ({causes[-1]}); for "
                "postgresql:// URLs: pip install 'psycopg[binary]'")
    why = (str(e).strip() or type(e).__name__).splitlines()[0][:200]
    return f"error: cannot open the storage {shown} ({why})"


def check_resumed(study, kind, direction, shown, settings):
    """Refuse to resume a study of another kind (ae, classifier, vae), or one run with
    other settings (subset, epochs, batch size), whose values would not compare; then
    record both in the study. Its kind is told by its trials' parameter names, as a study
    made before tune.py recorded its kind has only those."""
    names = {name for t in study.get_trials(deepcopy=False) for name in t.params}
    found = (("ae" if names & {"optimizer", "dropout"} else "classifier" if "no1" in names
              else "vae") if names else study.user_attrs.get("study"))
    if found not in (None, kind) or study.direction.name.lower() != direction:
        raise SystemExit(f"error: the study {study.study_name!r} in {shown} holds trials of "
                         f"tune.py {found or 'another study'}, not of tune.py {kind}; choose "
                         "another --study-name")
    if study.user_attrs.get("settings", settings) != settings:
        raise SystemExit(f"error: the study {study.study_name!r} in {shown} was run with "
                         f"{study.user_attrs['settings']}, not {settings}; use the same flags, "
                         "another --study-name, or another --storage")
    study.set_user_attr("study", kind)
    study.set_user_attr("settings", settings)


# -----------------------------------------------------------------------------
# Figures

def pyplot():
    """matplotlib.pyplot, drawing to files only (no window): every figure goes through here."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plain_log_axis(axis):
    """A log-scale axis whose labels read 0.015, 0.02, ... rather than 2 x 10^-2."""
    from matplotlib.ticker import FuncFormatter, LogLocator
    axis.set_minor_locator(LogLocator(subs=(1.5, 2, 3, 4, 6, 8)))
    for set_formatter in (axis.set_major_formatter, axis.set_minor_formatter):
        set_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


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


def plot_grid(images, path, title, row_labels=None, col_labels=None, cell=0.9):
    """Save images (R, C, 28, 28) (or (R, C, 1, 28, 28)) as one figure: a single mosaic
    (one imshow, fast for a 10 x 10 grid) with a title and optional row and column labels."""
    plt = pyplot()
    images = images.detach().float().cpu().reshape(*images.shape[:2], 28, 28)
    rows, cols = images.shape[:2]
    pad = 2  # white pixels between cells
    mosaic = torch.ones(rows, cols, 28 + pad, 28 + pad)
    mosaic[:, :, pad // 2:pad // 2 + 28, pad // 2:pad // 2 + 28] = images
    mosaic = mosaic.permute(0, 2, 1, 3).reshape(rows * (28 + pad), cols * (28 + pad))
    left = 1.3 if row_labels else 0.2
    top = 0.8 + 0.3 * bool(col_labels)
    fig, ax = plt.subplots(figsize=(left + cols * cell, top + rows * cell))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
    centers = lambda n: [(28 + pad) * i + (28 + pad) / 2 - 0.5 for i in range(n)]
    ax.set_xticks(centers(cols) if col_labels else [], col_labels or [], fontsize=9)
    ax.set_yticks(centers(rows) if row_labels else [], row_labels or [], fontsize=9)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    width = fig.get_size_inches()[0]
    fig.suptitle("\n".join(textwrap.wrap(title, int(width * 9))), fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)

"""Keeps bad input out: flags checked as parsed, --params as its flags, Ctrl-C one line.

Every flag is checked by its type as it is parsed and a bad one is one line (exit 2); a
tuned-value file (--params) passes the same checks; Ctrl-C, SIGTERM and running out of
memory stop a running script with one line.
"""
import argparse
import os
import random
import signal
import sys

import numpy as np
import torch

from plumbing.data import DATA_ENV

MIN_SUBSET = 40  # PCA, the 10-Gaussian mixture and a class of each need a few images
MAX_WIDTH = 1024  # a layer's width (d, No1, No2): 4 x tune.py's widest, > an image's 784 pixels
FLOAT32_MAX = 3.4028234663852886e38  # torch.finfo(torch.float32).max: the models' dtype


# -----------------------------------------------------------------------------
# The parser and the types of its flags

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


def layer_width(text):
    value = positive_int(text)
    if value > MAX_WIDTH:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_WIDTH} (a layer's width), got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not 0 < value <= FLOAT32_MAX:  # also nan, and what a float32 model cannot hold
        raise argparse.ArgumentTypeError(f"must be a positive number of at most "
                                         f"{FLOAT32_MAX:.4g} (float32), got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not 0 <= value <= FLOAT32_MAX:
        raise argparse.ArgumentTypeError(f"must be 0 or more, at most {FLOAT32_MAX:.4g} "
                                         f"(float32), got {text}")
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


def path_text(text):
    """A file or folder flag: an empty one (`--out-dir "$OUT"` with $OUT unset) is refused,
    not taken as the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be a path, got {text!r} (an unset variable?)")
    return text


def add_common_flags(parser):
    parser.add_argument("--quick", action="store_true",
                        help="tiny subset and few epochs, written to outputs/quick/: for tests "
                             "and a first look; flags given explicitly still win")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"],
                        help="where to compute; auto picks cuda, then mps, then cpu")
    parser.add_argument("--seed", type=seed_value, default=0,
                        help="seed for every random choice (initial weights, batch order, "
                             "subsamples); the train/validation split never moves with it")
    parser.add_argument("--data-dir", type=path_text, default=os.environ.get(DATA_ENV) or "data",
                        help=f"folder holding FashionMNIST/raw/ (or set ${DATA_ENV}; empty is "
                             "unset); if the files are not there, Debian's "
                             "dataset-fashion-mnist is decompressed into it, else torchvision "
                             "downloads them")
    parser.add_argument("--out-dir", type=path_text, default="outputs",
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
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        main()
    except KeyboardInterrupt as e:
        print("interrupted; nothing half-written", file=sys.stderr)
        sys.exit(128 + (e.args[0] if e.args else signal.SIGINT))
    except (MemoryError, RuntimeError) as e:  # torch.OutOfMemoryError is a RuntimeError
        if not out_of_memory(e):
            raise  # a bug, shown as one
        why = (str(e).strip() or type(e).__name__).splitlines()[0][:200]
        sys.exit(f"error: out of memory ({why}); try a smaller --batch-size or smaller "
                 "layers (d, no1, no2), or another --device; nothing half-written")


def out_of_memory(e):
    """A GPU's torch.OutOfMemoryError, Python's MemoryError, or the RuntimeError of torch's
    CPU allocator ("can't allocate memory") or of Apple's MPS ("out of memory")."""
    return (isinstance(e, (MemoryError, torch.OutOfMemoryError))
            or any(s in str(e) for s in ("can't allocate memory", "out of memory")))


def interrupt(signum, frame):
    """SIGTERM handled as Ctrl-C is: the same KeyboardInterrupt, carrying the signal."""
    raise KeyboardInterrupt(signum)


# -----------------------------------------------------------------------------
# Device and seed

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

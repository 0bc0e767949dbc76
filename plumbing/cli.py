"""Keeps bad input out: every flag checked by its type as it is parsed, a bad one one line
(exit 2); Ctrl-C, SIGTERM and running out of memory stop a running script with one line.
Last, the device and the seeds."""
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


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default, unless it is None or False (the help text says what it is)."""

    def _get_help_string(self, action):
        hidden = any(action.default is v for v in (None, False, argparse.SUPPRESS))  # not 0
        if hidden or "default:" in action.help:
            return action.help
        return action.help + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (exit 2), not a usage block."""

    def __init__(self, **kwargs):
        super().__init__(allow_abbrev=False,  # so that "--quick" is always spelled out
                         formatter_class=HelpFormatter, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def checked(convert, ok, says):
    """A flag's type: the text converted, or refused as "must be SAYS, got TEXT" (argparse
    prints it as the flag's one line) where it does not convert or the value is not ok."""
    def check(text):
        try:
            value = convert(text)
            if ok(value):
                return value
        except ValueError:  # "2.5" for an integer, "x" for a number
            pass
        raise argparse.ArgumentTypeError(f"must be {says}, got {text!r}")
    return check


positive_int = checked(int, lambda v: v > 0, "a positive integer")
non_negative_int = checked(int, lambda v: v >= 0, "0 or more")
layer_width = checked(int, lambda v: 0 < v <= MAX_WIDTH, f"1 to {MAX_WIDTH} (a layer's width)")
seed_value = checked(int, lambda v: 0 <= v < 2**32, "in 0 .. 2**32 - 1")
subset_size = checked(int, lambda v: v == 0 or v >= MIN_SUBSET,
                      f"0 (all) or at least {MIN_SUBSET}, so that the validation and test parts "
                      f"(N/4 each) hold {MIN_SUBSET // 4} images or more")
# nan is refused too, and any rate a float32 model cannot hold
positive_float = checked(float, lambda v: 0 < v <= FLOAT32_MAX,
                         f"a positive number of at most {FLOAT32_MAX:.4g} (float32)")
non_negative_float = checked(float, lambda v: 0 <= v <= FLOAT32_MAX,
                             f"0 or more, at most {FLOAT32_MAX:.4g} (float32)")
probability = checked(float, lambda v: 0 <= v < 1, "in [0, 1)")
optimizer_name = checked(str, lambda v: v in ("Adam", "SGD"), "Adam or SGD")
# an empty path (`--out-dir "$OUT"` with $OUT unset) is refused, not taken as the current folder
path_text = checked(str, lambda v: bool(v.strip()), "a path")


def add_common_flags(parser, batch_size=False):
    if batch_size:  # the scripts that train a model
        parser.add_argument("--batch-size", type=positive_int, default=256,
                            help="section 2.1: n = 256")
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
    """Parse the command line; with --quick, the values in `quick` become the defaults, so
    that a flag given explicitly still wins (argparse fills in a default only where the
    namespace has no value yet), and the run writes to outputs/quick/, never over a full run."""
    argv = sys.argv[1:] if argv is None else list(argv)
    namespace = (argparse.Namespace(out_dir="outputs/quick", **quick) if "--quick" in argv
                 else None)
    return parser.parse_args(argv, namespace)


def print_settings(args):
    print("settings: " + ", ".join(f"{k}={v}" for k, v in vars(args).items()))


def run(main):
    """Run a script's main(). Ctrl-C (SIGINT) and SIGTERM are one line and exit status 130 or
    143: every file a script writes goes through write_atomically, so nothing is half-written."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        main()
    except KeyboardInterrupt as e:
        print("interrupted; nothing half-written", file=sys.stderr)
        sys.exit(128 + (e.args[0] if e.args else signal.SIGINT))
    except (MemoryError, RuntimeError) as e:  # torch.OutOfMemoryError is a RuntimeError
        # a GPU's OutOfMemoryError, or the RuntimeError of torch's CPU allocator or Apple's MPS
        if not (isinstance(e, (MemoryError, torch.OutOfMemoryError))
                or any(s in str(e) for s in ("can't allocate memory", "out of memory"))):
            raise  # a bug, shown as one
        why = (str(e).strip() or type(e).__name__).splitlines()[0][:200]
        sys.exit(f"error: out of memory ({why}); try a smaller --batch-size or smaller "
                 "layers (d, no1, no2), or another --device; nothing half-written")


def interrupt(signum, frame):
    """SIGTERM handled as Ctrl-C is: the same KeyboardInterrupt, carrying the signal."""
    raise KeyboardInterrupt(signum)


def pick_device(name):
    """--device: auto picks cuda, then mps, then cpu; one that is not there is one line."""
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(),
                 "cpu": True}
    if name == "auto":
        name = next(n for n, ok in available.items() if ok)
    if not available[name]:
        raise SystemExit(f"error: --device {name} is not available on this machine "
                         "(use --device auto or cpu)")
    return torch.device(name)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)

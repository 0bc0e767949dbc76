"""Keeps the data honest: the four Fashion-MNIST files found, and checked whole before use.

Looked for in a folder, then in Debian's package, then through torchvision's download; each
IDX file is checked to be whole and of the right shape before a script trusts it.
"""
import gzip
import math
import os
import shutil
from pathlib import Path

DATA_ENV = "FASHION_MNIST_DIR"                      # environment variable for --data-dir
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist
RAW_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


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
            # A name of this process's own: steps started side by side on a fresh folder each
            # decompress into their own file, and os.replace puts a whole one in place.
            tmp = raw / f"{f}.{os.getpid()}.tmp"
            reinstall = "reinstall it: apt-get install --reinstall dataset-fashion-mnist"
            try:
                try:
                    with gzip.open(DEBIAN_DIR / f"{f}.gz") as src, open(tmp, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                except (OSError, EOFError) as e:
                    raise SystemExit(f"error: {DEBIAN_DIR / f}.gz is corrupt ({e}); {reinstall}")
                if not is_idx(tmp, 3 if "images" in f else 1):  # valid gzip, wrong contents
                    raise SystemExit(f"error: {DEBIAN_DIR / f}.gz does not hold an IDX file of "
                                     f"Fashion-MNIST; {reinstall}")
                os.replace(tmp, raw / f)
            finally:  # an error or a Ctrl-C leaves no partial copy behind
                tmp.unlink(missing_ok=True)
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
    return size == len(header) + math.prod(dims)


def check_idx(path, n_dims):
    """A file that is not a whole IDX file is named in one clear error."""
    if not is_idx(path, n_dims):
        raise SystemExit(f"error: {path} is truncated or corrupt ({path.stat().st_size} "
                         "bytes); delete it and run again to fetch it anew")


FULL_SIZE = {"train": 60_000, "t10k": 10_000}  # images in Fashion-MNIST's two sets


def read_fashion_mnist(data_dir, train, subset=0):
    """(images uint8 (N, 28, 28), labels int64 (N,)), read by torchvision's FashionMNIST.
    Without a subset (0), a run reports on the whole set: the files must hold all of its
    60,000 or 10,000 images, not a set cut short whose results would pass for the report's."""
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
    if not subset and len(ds.data) != FULL_SIZE[prefix]:
        raise SystemExit(f"error: {raw / prefix}-images-idx3-ubyte holds {len(ds.data):,} "
                         f"images, not Fashion-MNIST's {FULL_SIZE[prefix]:,}; delete the "
                         f"{prefix} files to fetch them anew, or pass --subset N for a part")
    return ds.data, ds.targets

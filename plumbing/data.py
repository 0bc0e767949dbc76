"""Keeps the data honest: the four Fashion-MNIST files looked for in a folder, then in Debian's
package, then through torchvision's download; each read whole by torchvision before use."""
import gzip
import shutil
from pathlib import Path

from plumbing.files import write_atomically

DATA_ENV = "FASHION_MNIST_DIR"                      # environment variable for --data-dir
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist
RAW_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
FULL_SIZE = {"train": 60_000, "t10k": 10_000}  # images in Fashion-MNIST's two sets


def find_data(data_dir):
    """Make sure ROOT/FashionMNIST/raw/ holds the four IDX files; return ROOT. Debian's .gz files
    are re-compressed (torchvision's md5 check of them would fail), but hold the real data."""
    root = Path(data_dir)
    raw = root / "FashionMNIST" / "raw"
    if all((raw / f).exists() for f in RAW_FILES):
        return root
    if all((DEBIAN_DIR / f"{f}.gz").exists() for f in RAW_FILES):
        print(f"decompressing Debian's Fashion-MNIST ({DEBIAN_DIR}) into {raw}/")
        for f in RAW_FILES:
            # Steps started side by side on a fresh folder each decompress into a temporary
            # file of their own, and each puts a whole one in place.
            if not (raw / f).exists():
                write_atomically(raw / f, lambda tmp: decompress(DEBIAN_DIR / f"{f}.gz", tmp))
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


def decompress(gz, tmp):
    """Debian's gz into tmp, checked to hold an IDX file; one that does not is one line."""
    try:
        with gzip.open(gz) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        read_idx(tmp)
    except Exception as e:  # not gzip, cut short, or a valid gzip of something else
        raise SystemExit(f"error: {gz} is corrupt or holds no IDX file of Fashion-MNIST "
                         f"({type(e).__name__}); reinstall it: apt-get install --reinstall "
                         "dataset-fashion-mnist")


def read_idx(path):
    """An IDX file as a tensor, read by torchvision's own reader, which checks its header and
    its size: uint8 images (N, 28, 28), or int64 labels (N,)."""
    from torchvision.datasets.mnist import read_image_file, read_label_file
    return (read_image_file if "-images-" in path.name else read_label_file)(str(path))


def read_fashion_mnist(data_dir, train, subset=0):
    """(images uint8 (N, 28, 28), labels int64 (N,)). Without a subset (0), a run reports on the
    whole set: the files must hold all of its 60,000 or 10,000 images, not a set cut short
    whose results would pass for the report's."""
    raw = find_data(data_dir) / "FashionMNIST" / "raw"
    prefix = "train" if train else "t10k"
    read = {}
    for name in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):
        try:
            read[name] = read_idx(raw / name)
        except Exception as e:  # a wrong header (AssertionError, TypeError), cut short ...
            raise SystemExit(f"error: {raw / name} is truncated or corrupt ({type(e).__name__}, "
                             f"{(raw / name).stat().st_size} bytes); delete it and run again "
                             "to fetch it anew")
    images, labels = read.values()
    if images.shape[1:] != (28, 28) or len(images) != len(labels) or labels.max() > 9:
        raise SystemExit(f"error: the {prefix} files in {raw} are not Fashion-MNIST "
                         "(image size, counts or labels are off); delete them")
    if not subset and len(images) != FULL_SIZE[prefix]:
        raise SystemExit(f"error: {raw / prefix}-images-idx3-ubyte holds {len(images):,} "
                         f"images, not Fashion-MNIST's {FULL_SIZE[prefix]:,}; delete the "
                         f"{prefix} files to fetch them anew, or pass --subset N for a part")
    return images, labels

"""Keeps files whole: each written to a temporary file, then renamed over the old one; a
results file updated entry by entry under a lock; the output folder checked before a long run.
Reads results files back: a number by its path, and what a file lacks as one line."""
import contextlib
import fcntl
import hashlib
import json
import math
import os
import shutil
import tempfile
import threading
from pathlib import Path


def out_dir(path):
    """The output folder, made if need be, and checked to be writable now rather than after a
    long training run."""
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
    """Call write(tmp), then rename tmp to path (os.replace is atomic): a crash, or a second
    process writing at once, never leaves half a file. A failure is one line naming the file;
    Ctrl-C and SystemExit pass through; tmp is removed either way."""
    path = Path(path)
    # a name of this process and thread alone: two writers never share a temporary file
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except Exception as e:  # a full disk (OSError; torch.save's is a RuntimeError) ...
        raise SystemExit(f"error: cannot write {path} ({write_error(e, path)}); "
                         "the earlier file, if any, is unchanged")
    finally:  # tmp.exists(): on a read-only disk, unlink fails even where there is no file
        if tmp.exists():
            tmp.unlink()


def write_error(e, path):
    """Why a write failed, in a few words: an OSError's own; another library's first line,
    with the space left on the disk, since torch and others do not say that it is full."""
    if isinstance(e, OSError):
        return (e.strerror or str(e)).lower()
    why = f"{type(e).__name__}: {(str(e).strip() or 'no message').splitlines()[0][:160]}"
    with contextlib.suppress(OSError):
        why += f"; {shutil.disk_usage(path.parent).free / 2**20:.1f} MiB free on its disk"
    return why


def save_json(path, obj):
    write_atomically(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2) + "\n"))


def save_text(path, text):
    write_atomically(path, lambda tmp: Path(tmp).write_text(text))


def read_json(path, fix):
    """The JSON object (a dict) at path; a missing or damaged file is one line ending with
    `fix`, what to do about it. Every results file is read here."""
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
    """Write `entries` (a dict) into the results file at path, keeping every other entry: it
    is read again just before the write, under a lock, so that two runs into one folder (ae.py
    --part compare and --part refit at once) each keep the other's entry."""
    path = Path(path)
    with locked(path):
        results = read_json(path, "move it away or use another --out-dir") if path.exists() else {}
        save_json(path, {**results, **entries})


@contextlib.contextmanager
def locked(path):
    """Hold an advisory lock (flock) on PATH.lock for the block: a second process waits here
    until the first has written; the kernel releases it however the process ends. The empty
    lock file stays (removing it would let a third process lock a new one meanwhile)."""
    lock = path.with_name(path.name + ".lock")
    try:
        fh = open(lock, "a")
    except OSError as e:
        raise SystemExit(f"error: cannot write {lock} ({e.strerror.lower()}); the earlier "
                         f"{path.name}, if any, is unchanged")
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def fingerprint(path):
    """{"bytes": size, "sha256": hash} of a file: a results entry records that of the
    checkpoint it describes, and readers compare (a run stopped between the two writes, or
    two runs into one folder, leave them apart)."""
    data = Path(path).read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def number(data, *keys, optional=False):
    """data["refit"]["val_mse"][-1] for the keys "refit", "val_mse", -1, as a float (a NaN is
    one). What is absent is a KeyError that names the whole path, or None if optional."""
    value, path = data, ".".join(map(str, keys))
    for key in keys:
        try:
            value = value[int(key)] if isinstance(value, list) else value[key]
        except (KeyError, IndexError, ValueError, TypeError):
            if optional:
                return None
            raise KeyError(path) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{path} is {value!r}, not a number")
    return float(value)


@contextlib.contextmanager
def reading(path, fix):
    """What the results file at path lacks, or holds in the wrong place: one line that names
    the file and the key (and the value where a number belongs)."""
    try:
        yield
    except KeyError as e:
        raise SystemExit(f"error: {path} lacks {e}; {fix}")
    except (IndexError, TypeError, ValueError, AttributeError) as e:
        raise SystemExit(f"error: {path}: {str(e)[:200]}; {fix}")


def read_times(path, columns):
    """The rows of a times file of scripts/reproduce.py: tab-separated `columns` (a header
    line of them is skipped), those after "step" in seconds; [] if there is none. A seed run's
    step copied from the report, not trained again, says "reused" and is left out."""
    rows, words = [], columns.index("step") + 1
    for n, line in enumerate(path.read_text().splitlines() if path.exists() else [], 1):
        cells = line.split("\t")
        if not line or cells[-1] == "reused" or cells == list(columns):
            continue
        try:
            seconds = [float(cell) for cell in cells[words:]]
        except ValueError:
            seconds = []
        if len(cells) != len(columns) or not seconds or not all(map(math.isfinite, seconds)):
            raise SystemExit(f"error: {path}, line {n}, is not {'<TAB>'.join(columns)!r} "
                             f"({line!r}); delete the line or the file")
        rows.append(cells[:words] + seconds)
    return rows


def fmt(value):
    """A value as tables print it: 4 significant digits for a float, "—" for None."""
    return "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)

"""Keeps files whole: atomic writes, results updated entry by entry, folders checked early.

A results file is updated entry by entry, re-read just before its atomic write; the output
folder is checked to be writable before a long run; a fingerprint ties a results entry to
the checkpoint it describes.
"""
import hashlib
import json
import os
import tempfile
from pathlib import Path


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


def fingerprint(path):
    """{"bytes": size, "sha256": hash} of a file: a results entry records that of the
    checkpoint it describes, and readers compare (a run stopped between the two writes,
    or two runs into one folder, leave them apart)."""
    data = Path(path).read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
"""Keeps checkpoints safe: only tensors and plain settings, written atomically, read with
weights_only=True; a missing, damaged or foreign one is one line naming the command to run."""
from pathlib import Path

import torch

from plumbing import files


def save_checkpoint(path, settings, **state_dicts):
    """Write {"settings": {...}, name: state_dict, ...} atomically; return its fingerprint."""
    payload = {"settings": settings,
               **{k: {n: t.detach().cpu() for n, t in sd.items()} for k, sd in state_dicts.items()}}
    files.write_atomically(path, lambda tmp: torch.save(payload, tmp))
    return files.fingerprint(path)


WEIGHTS = {"encoder": "the autoencoder's (ae.py)", "vae": "the VAE's (vae.py)",
           "judge": "beyond/judge.py's judge"}  # by key


def command_for(made_by, path):
    """`made_by` with the --quick or --out-dir that makes it write into path's folder."""
    where = {Path("outputs"): "", Path("outputs/quick"): " --quick"}
    return made_by + where.get(Path(path).parent, f" --out-dir {Path(path).parent}")


def load_checkpoint(path, made_by, key=None):
    """The checkpoint dict, loaded with weights_only=True; `made_by`, the command that writes
    it, is named when the file is missing, unreadable, or holds no `key` weights."""
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

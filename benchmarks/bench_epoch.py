"""Seconds per training epoch of the AE: the report's loop, this project's, and two speed-ups.

The report's notebook fed the model through `DataLoader(FashionMNIST(transform=ToTensor()),
shuffle=True)`: a PIL image per sample, converted and collated in Python. ae.py keeps the
48,000 training images on the device as one tensor and slices a shuffled index. Four rows,
all the same model (Table 4's d = 185, Adam, batch 256) from the same initial weights, in
the same run, alternating epoch by epoch, so that a busy machine slows all of them alike:

    DataLoader(ToTensor)               the report's loop, one host-to-device copy per batch
    tensors on device                  device_epoch below: shuffled index slices, plain Adam
    tensors on device, Adam fused=True the same, with torch.optim.Adam(..., fused=True)
    tensors on device, torch.compile   the same, with plain Adam and the model under
                                       torch.compile

The three "tensors on device" rows share one loop, device_epoch, written here (it does
what ae.train_epoch does, without its returned loss). Each row first runs one untimed
warm-up epoch (first-call costs, caches; for torch.compile, the compilation, whose seconds
are printed apart). A row that the machine refuses (fused Adam on a device without it,
torch.compile without a working compiler) is reported in one line and left out. Neither
speed-up is used by the project's scripts: this only measures them.

    python -m benchmarks.bench_epoch              # 3 timed epochs each
    python -m benchmarks.bench_epoch --epochs 2
    python -m benchmarks.bench_epoch --device cuda --json outputs/bench_epoch.json

--json PATH writes every row's median, runs and ratio (and the warm-up seconds), rewritten
after each round of epochs, so that a run stopped by a time limit leaves what it measured.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import transforms
from torchvision.datasets import FashionMNIST

from common import Decoder, Encoder, load_train_val, split_indices
from plumbing.cli import path_text, pick_device
from plumbing.data import find_data
from plumbing.files import save_json

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--epochs", type=int, default=3, help="timed epochs of each row")
parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
parser.add_argument("--data-dir", type=path_text, default="data")
parser.add_argument("--json", metavar="PATH", type=path_text, help="also write the medians and runs here")
args = parser.parse_args()
if args.epochs < 1:
    parser.error("--epochs must be at least 1")
device = pick_device(args.device)
BATCH = 256


def dataloader_epoch(model, optimizer, loader):
    """The report's loop: DataLoader(ToTensor), one host-to-device copy per batch."""
    model.train()
    for xb, _ in loader:
        xb = xb.to(device)
        loss = F.mse_loss(model(xb), xb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def device_epoch(model, optimizer, x, batch_size, generator):
    """One pass over x, already on the device, in shuffled index slices; no host sync per
    batch. Returns the last batch's loss as a tensor (not read, so nothing waits for it)."""
    model.train()
    for idx in torch.randperm(len(x), generator=generator).to(x.device).split(batch_size):
        xb = x[idx]
        loss = F.mse_loss(model(xb), xb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return loss.detach()


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()


def one_line(error):
    """An exception as one short line (torch.compile's can run to pages)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}"


def adam(params, **kw):
    return torch.optim.Adam(params, lr=0.0058, weight_decay=1.038e-5, **kw)


root = find_data(args.data_dir)
train_idx, _ = split_indices(60_000)
dataset = torch.utils.data.Subset(
    FashionMNIST(root, train=True, transform=transforms.ToTensor()), train_idx.tolist())
loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True)
(x_train, _), _ = load_train_val(args.data_dir, device)

torch.manual_seed(0)
initial = nn.Sequential(Encoder(185, 0.005), Decoder(185, 0.005)).state_dict()


def fresh_model():
    model = nn.Sequential(Encoder(185, 0.005), Decoder(185, 0.005)).to(device)
    model.load_state_dict(initial)
    return model


def on_device(model, optimizer):
    generator = torch.Generator().manual_seed(0)  # each row its own: the same batch order
    return lambda: device_epoch(model, optimizer, x_train, BATCH, generator)


DATALOADER = "DataLoader(ToTensor)"
FUSED = "tensors on device, Adam fused=True"
COMPILE = "tensors on device, torch.compile"
epochs, skipped = {}, {}
report_model = fresh_model()
report_optimizer = adam(report_model.parameters())
epochs[DATALOADER] = lambda: dataloader_epoch(report_model, report_optimizer, loader)
model = fresh_model()
epochs["tensors on device"] = on_device(model, adam(model.parameters()))
model = fresh_model()
try:
    epochs[FUSED] = on_device(model, adam(model.parameters(), fused=True))
except (RuntimeError, ValueError, TypeError) as error:
    skipped[FUSED] = one_line(error)
model = fresh_model()
epochs[COMPILE] = on_device(torch.compile(model), adam(model.parameters()))

warmup = {}
for label, run in list(epochs.items()):  # warm-up: first-call costs, caches, compilation
    sync()
    t0 = time.perf_counter()
    try:
        run()
        sync()
    except Exception as error:  # noqa: BLE001  (fused step or compile failing on this machine)
        if label not in (FUSED, COMPILE):
            raise
        skipped[label] = one_line(error)
        del epochs[label]
        continue
    warmup[label] = time.perf_counter() - t0
for label, reason in skipped.items():
    print(f"{label}: skipped, this machine refuses it ({reason})")

machine = (torch.cuda.get_device_name() if device.type == "cuda"
           else f"CPU, {torch.get_num_threads()} threads")
times = {label: [] for label in epochs}


def summary():
    base = statistics.median(times[DATALOADER])
    rows = {label: {"median_s": statistics.median(t), "runs_s": t,
                    "ratio_to_dataloader": statistics.median(t) / base,
                    "warmup_s": warmup[label]} for label, t in times.items()}
    return {"device": str(device), "machine": machine, "torch": torch.__version__,
            "images": len(x_train), "batch": BATCH, "epochs_timed": len(times[DATALOADER]),
            "epochs_asked": args.epochs, "rows": rows, "skipped": skipped}


for _ in range(args.epochs):
    for label, run in epochs.items():
        sync()
        t0 = time.perf_counter()
        run()
        sync()
        times[label].append(time.perf_counter() - t0)
    if args.json:  # whole after each round: a run stopped by a time limit keeps what it measured
        save_json(args.json, summary())

result = summary()
print(f"device: {device} ({machine}), torch {torch.__version__}; {len(x_train):,} images, "
      f"batch {BATCH}, {args.epochs} timed epochs each")
for label, row in result["rows"].items():
    extra = f"; warm-up with compilation {row['warmup_s']:.1f} s" if label == COMPILE else ""
    print(f"{label:34s} {row['median_s']:6.2f} s/epoch (median; runs "
          f"{', '.join(f'{s:.2f}' for s in row['runs_s'])})  "
          f"{row['ratio_to_dataloader']:.2f} x the DataLoader loop{extra}")

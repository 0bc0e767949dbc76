"""Seconds per training epoch of the AE: this project's loop against the report's.

The report's notebook fed the model through `DataLoader(FashionMNIST(transform=ToTensor()),
shuffle=True)`: a PIL image per sample, converted and collated in Python. ae.py keeps the
48,000 training images on the device as one tensor and slices a shuffled index. Both feed
the same model (Table 4's d = 185, Adam, batch 256) from the same initial weights, in the
same run, alternating, so that a busy machine slows both alike.

    python benchmarks/bench_epoch.py              # 3 timed epochs each
    python benchmarks/bench_epoch.py --device cuda
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ae import train_epoch  # noqa: E402
from common import (Decoder, Encoder, find_data, load_train_val, pick_device,  # noqa: E402
                    split_indices)

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--epochs", type=int, default=3, help="timed epochs of each loop")
parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
parser.add_argument("--data-dir", default="data")
args = parser.parse_args()
device = pick_device(args.device)


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


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()


from torchvision import transforms  # noqa: E402
from torchvision.datasets import FashionMNIST  # noqa: E402

root = find_data(args.data_dir)
train_idx, _ = split_indices(60_000)
dataset = torch.utils.data.Subset(
    FashionMNIST(root, train=True, transform=transforms.ToTensor()), train_idx.tolist())
loader = torch.utils.data.DataLoader(dataset, batch_size=256, shuffle=True)
(x_train, _), _ = load_train_val(args.data_dir, device)
generator = torch.Generator().manual_seed(0)

torch.manual_seed(0)
initial = nn.Sequential(Encoder(185, 0.005), Decoder(185, 0.005)).state_dict()
models, optimizers = {}, {}
for name in ("DataLoader(ToTensor)", "tensors on device"):
    models[name] = nn.Sequential(Encoder(185, 0.005), Decoder(185, 0.005)).to(device)
    models[name].load_state_dict(initial)
    optimizers[name] = torch.optim.Adam(models[name].parameters(), lr=0.0058,
                                        weight_decay=1.038e-5)

epochs = {
    "DataLoader(ToTensor)": lambda: dataloader_epoch(models["DataLoader(ToTensor)"],
                                                     optimizers["DataLoader(ToTensor)"], loader),
    "tensors on device": lambda: train_epoch(models["tensors on device"],
                                             optimizers["tensors on device"], x_train, 256,
                                             generator),
}
for run in epochs.values():  # warm-up: first-call costs, caches
    run()
times = {name: [] for name in epochs}
for _ in range(args.epochs):
    for name, run in epochs.items():
        sync()
        t0 = time.perf_counter()
        run()
        sync()
        times[name].append(time.perf_counter() - t0)

name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
print(f"device: {device} ({name}); 48,000 images, batch 256, {args.epochs} timed epochs each")
base = statistics.median(times["DataLoader(ToTensor)"])
for label, t in times.items():
    m = statistics.median(t)
    print(f"{label:22s} {m:6.2f} s/epoch (median; runs {', '.join(f'{s:.2f}' for s in t)})"
          f"  {m / base:.2f} x the DataLoader loop")

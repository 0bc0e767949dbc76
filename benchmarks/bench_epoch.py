"""Seconds per training epoch of the AE: the report's loop, this project's, and two speed-ups.

The report's notebook fed the model through `DataLoader(FashionMNIST(transform=ToTensor()),
shuffle=True)`, a PIL image per sample; ae.py keeps the 48,000 training images on the device as
one tensor and slices a shuffled index (its train_epoch, timed as it is). Four rows, one model
(Table 4's d = 185, Adam, batch 256) from the same initial weights, alternating epoch by epoch so
that a busy machine slows all alike: the DataLoader loop; tensors on device; the same with
Adam(fused=True); the same under torch.compile. Each row first runs an untimed warm-up epoch
(torch.compile's compilation, printed apart). A speed-up the machine refuses is one line and
left out; the scripts use neither, this only measures them.

    python -m benchmarks.bench_epoch              # 3 timed epochs each
    python -m benchmarks.bench_epoch --device cuda --json outputs/bench_epoch.json

--json PATH is rewritten after each round of epochs: a run stopped by a time limit keeps it.
"""
import statistics
import time

import torch
import torch.nn.functional as F
from torchvision import transforms
from torchvision.datasets import FashionMNIST

from ae import TABLE_4, autoencoder, train_epoch
from common import load_train_val, split_indices
from plumbing.cli import Parser, path_text, pick_device, positive_int
from plumbing.data import find_data
from plumbing.files import save_json

parser = Parser(description=__doc__.split("\n")[0])
parser.add_argument("--epochs", type=positive_int, default=3, help="timed epochs of each row")
parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"],
                    help="where to compute")
parser.add_argument("--data-dir", type=path_text, default="data", help="holds FashionMNIST/raw/")
parser.add_argument("--json", metavar="PATH", type=path_text,
                    help="also write the medians and runs here")
args = parser.parse_args()
device = pick_device(args.device)
sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None  # before each clock
BATCH = 256


def dataloader_epoch(model, optimizer, loader):
    """The report's loop: one pass over the DataLoader's batches (B, 1, 28, 28), each copied to
    the device, the step of ae.train_epoch."""
    model.train()
    for xb, _ in loader:
        xb = xb.to(device)
        loss = F.mse_loss(model(xb), xb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


root = find_data(args.data_dir)
train_idx, _ = split_indices(60_000)
dataset = torch.utils.data.Subset(
    FashionMNIST(root, train=True, transform=transforms.ToTensor()), train_idx.tolist())
loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True)
(x_train, _), _ = load_train_val(args.data_dir, device)

torch.manual_seed(0)
initial = autoencoder(TABLE_4["d"], TABLE_4["dropout"]).state_dict()


def row(loop, compile=False, **adam_options):
    """One row's epoch, a function of no arguments: a fresh model from the initial weights
    (under torch.compile if asked), its Adam, and for the device loop its own batch order."""
    model = autoencoder(TABLE_4["d"], TABLE_4["dropout"]).to(device)
    model.load_state_dict(initial)
    optimizer = torch.optim.Adam(model.parameters(), lr=TABLE_4["lr"],
                                 weight_decay=TABLE_4["weight_decay"], **adam_options)
    model = torch.compile(model) if compile else model
    if loop == "dataloader":
        return lambda: dataloader_epoch(model, optimizer, loader)
    generator = torch.Generator().manual_seed(0)  # each row its own: the same batch order
    return lambda: train_epoch(model, optimizer, x_train, BATCH, generator)  # ae.py's loop


DATALOADER = "DataLoader(ToTensor)"
FUSED = "tensors on device, Adam fused=True"
COMPILE = "tensors on device, torch.compile"
makers = {DATALOADER: lambda: row("dataloader"), "tensors on device": lambda: row("device"),
          FUSED: lambda: row("device", fused=True), COMPILE: lambda: row("device", compile=True)}
epochs, warmup, skipped = {}, {}, {}
for label, make in makers.items():  # warm-up: first-call costs, caches, compilation
    sync()
    t0 = time.perf_counter()
    try:
        epochs[label] = make()
        epochs[label]()
        sync()
    except Exception as error:  # noqa: BLE001  (fused Adam or compile failing on this machine)
        if label not in (FUSED, COMPILE):
            raise
        text = " ".join(str(error).split())  # one short line: torch.compile's run to pages
        skipped[label] = f"{type(error).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}"
        epochs.pop(label, None)
        print(f"{label}: skipped, this machine refuses it ({skipped[label]})")
        continue
    warmup[label] = time.perf_counter() - t0

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
for label, r in result["rows"].items():
    extra = f"; warm-up with compilation {r['warmup_s']:.1f} s" if label == COMPILE else ""
    print(f"{label:34s} {r['median_s']:6.2f} s/epoch (median; runs "
          f"{', '.join(f'{s:.2f}' for s in r['runs_s'])})  "
          f"{r['ratio_to_dataloader']:.2f} x the DataLoader loop{extra}")

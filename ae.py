"""The convolutional autoencoder: sections 2.1, 3.1 and 3.2 of the report.

Part 1, "compare" (section 3.1, Figures 1 and 7): the AE of Tables 1 and 2 trained twice
from the same initial weights and the same batch order, once with Adam and once with SGD,
42 epochs, batch 256, lr 0.0005, weight decay 0.0001, dropout 0.2, MSE loss.
Part 2, "refit" (section 3.2, Table 4, Figures 2 and 10): the AE refitted with the tuned
values of outputs/tuned_ae.json (written by `python tune.py ae`), or Table 4's when that
file does not exist, and saved as outputs/ae.pt for classify.py and explore.py.
Each run's validation MSE is printed beside that of PCA with as many components: the
linear baseline an autoencoder has to beat.

    python ae.py              # both parts, 3 x 42 epochs: 12 min on a 2-core CPU
    python ae.py --quick      # 2,000 images, 2 epochs: 6 s
    python ae.py --part refit # only part 2

Writes to outputs/: fig01_loss_adam_vs_sgd.png, fig07_training_progress.png,
fig02_reconstruction_bag.png, fig10_reconstructions.png, ae.pt, and ae.json (settings,
per-epoch losses, final and PCA MSEs, wall time and device of each part; a part not run
keeps its earlier entry).
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import (CLASSES, Decoder, Encoder, Parser, add_common_flags, batches,
                    load_results, load_train_val, load_tuned, make_optimizer,
                    non_negative_float, out_dir, parse_args, pca, pick_device, plot_grid,
                    positive_float, positive_int, print_settings, probability,
                    save_checkpoint, save_json, seed_everything)

# -----------------------------------------------------------------------------
# Settings: the report's values are the defaults

TABLE_4 = {"d": 185, "optimizer": "Adam", "lr": 0.0058, "dropout": 0.005,
           "weight_decay": 1.038e-5}  # the tuned AE of section 3.2
QUICK = {"subset": 2000, "epochs": 2}
COMPARE_ONLY = ("d", "lr", "weight_decay", "dropout")  # flags of part 1 alone
BOTTLENECK = 64  # the width of the layer before the code h (Table 1)

parser = Parser(description=__doc__.split("\n")[0])
parser.add_argument("--part", default="all", choices=["all", "compare", "refit"],
                    help="compare: Adam vs SGD (section 3.1); refit: the tuned AE (section "
                         "3.2), with OUT_DIR/tuned_ae.json's values if it exists, else "
                         "Table 4's")
parser.add_argument("--epochs", type=positive_int, default=42,
                    help="epochs of every run (section 2.1)")
parser.add_argument("--batch-size", type=positive_int, default=256, help="section 2.1: n = 256")
parser.add_argument("--d", type=positive_int, default=2,
                    help="latent dimension of the Adam-vs-SGD runs; the report does not state "
                         "it, its notebook used d = 2")
parser.add_argument("--lr", type=positive_float, default=0.0005,
                    help="learning rate of both Adam and SGD in part 1 (section 2.1; the "
                         "notebook gave SGD 0.001)")
parser.add_argument("--weight-decay", type=non_negative_float, default=0.0001,
                    help="weight decay alpha in part 1 (section 2.1)")
parser.add_argument("--dropout", type=probability, default=0.2,
                    help="dropout dr of the linear layers in part 1 (section 2.1)")
add_common_flags(parser)


# -----------------------------------------------------------------------------
# Training and evaluation

def train_epoch(model, optimizer, x, batch_size, generator):
    """One pass over x in shuffled batches; returns the mean training MSE."""
    model.train()
    total = torch.zeros((), device=x.device)
    for idx in batches(len(x), batch_size, x.device, generator=generator):
        xb = x[idx]                              # (B, 1, 28, 28)
        x_hat = model(xb)                        # (B, 1, 28, 28)
        loss = F.mse_loss(x_hat, xb)             # section 2.1: mean of (x - g(f(x)))^2
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(idx)        # stays on the device: no sync per batch
    return total.item() / len(x)


@torch.no_grad()
def evaluate(model, x, batch_size=1024):
    """Mean squared error per pixel over x, with dropout off."""
    model.eval()
    total = sum(F.mse_loss(model(xb), xb, reduction="sum") for xb in x.split(batch_size))
    model.train()
    return total.item() / x.numel()


@torch.no_grad()
def reconstruct(model, x):
    model.eval()
    x_hat = model(x)
    model.train()
    return x_hat.cpu()


def fit(model, optimizer, x_train, x_val, args, name, watch=None):
    """Train for args.epochs; returns the per-epoch history and, if `watch` images are
    given, their reconstruction after every epoch (Figure 7). Stops early, with
    history["diverged"] set to the epoch, if the loss stops being a finite number."""
    generator = torch.Generator().manual_seed(args.seed)  # same batch order for every run
    history = {"train_mse": [], "val_mse": [], "seconds": [], "diverged": False}
    snapshots = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        train_mse = train_epoch(model, optimizer, x_train, args.batch_size, generator)
        val_mse = evaluate(model, x_val)
        seconds = time.perf_counter() - t0
        if not (math.isfinite(train_mse) and math.isfinite(val_mse)):
            print(f"{name} diverged at epoch {epoch} (training MSE {train_mse}): "
                  "the learning rate is too large")
            history["diverged"] = epoch
            break
        history["train_mse"].append(train_mse)
        history["val_mse"].append(val_mse)
        history["seconds"].append(seconds)
        if watch is not None:
            snapshots.append(reconstruct(model, watch))
        print(f"{name} epoch {epoch:2d}/{args.epochs}: train mse {train_mse:.5f}, "
              f"val mse {val_mse:.5f}, {seconds:.1f}s")
    return history, snapshots


def pca_val_mse(x_train, x_val, k):
    """Validation MSE of PCA with k components fitted on the training images."""
    mean, components, _ = pca(x_train.flatten(1), k)          # (784,), (k, 784)
    z = (x_val.flatten(1) - mean) @ components.T              # (N, k)
    x_hat = z @ components + mean                             # (N, 784)
    return F.mse_loss(x_hat, x_val.flatten(1)).item()


# -----------------------------------------------------------------------------
# Figures

def plot_losses(histories, path, title):
    """Figure 1: training (solid) and validation (dashed) MSE per epoch, per optimiser."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, h), color in zip(histories.items(), ("tab:blue", "tab:orange")):
        epochs = range(1, len(h["train_mse"]) + 1)
        note = f" (diverged at epoch {h['diverged']})" if h["diverged"] else ""
        ax.plot(epochs, h["train_mse"], color=color, label=f"{name}, training{note}")
        ax.plot(epochs, h["val_mse"], color=color, linestyle="--", label=f"{name}, validation")
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(LogLocator(subs=(1.5, 2, 3, 4, 6, 8)))  # 0.015, 0.02 ...
    for set_formatter in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
        set_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 0.02, not 2 x 10^-2
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("epoch")
    ax.set_ylabel("reconstruction loss (MSE per pixel, log scale)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def first_of_class(y, name, n):
    return (y == CLASSES.index(name)).nonzero().flatten()[:n]


def plot_reconstructions(model, x_val, y_val, class_names, path, title, n=8):
    """Figures 2 and 10: for each class, a row of originals above their reconstructions."""
    rows, labels = [], []
    for name in class_names:
        x = x_val[first_of_class(y_val, name, n)]
        rows += [x.cpu(), reconstruct(model, x)]
        labels += [f"{name}\noriginal", f"{name}\nreconstructed"]
    plot_grid(torch.stack(rows), path, title, row_labels=labels)


# -----------------------------------------------------------------------------

def compare_optimizers(args, device, x_train, x_val, y_val, out):
    """Part 1 (section 3.1): Adam against SGD from the same initial weights."""
    seed_everything(args.seed)
    initial = nn.Sequential(Encoder(args.d, args.dropout), Decoder(args.d, args.dropout))
    watch = x_val[first_of_class(y_val, "Ankle boot", 1)]    # (1, 1, 28, 28), Figure 7
    histories, snapshots = {}, {}
    baseline = pca_val_mse(x_train, x_val, args.d)  # the same for both optimisers
    for name in ("Adam", "SGD"):
        model = nn.Sequential(Encoder(args.d, args.dropout), Decoder(args.d, args.dropout))
        model.load_state_dict(initial.state_dict())
        model.to(device)
        optimizer = make_optimizer(name, model.parameters(), args.lr, args.weight_decay)
        histories[name], snapshots[name] = fit(model, optimizer, x_train, x_val, args,
                                               f"{name:4s}", watch)
        histories[name]["pca_val_mse"] = baseline
    settings = f"d = {args.d}, lr = {args.lr}, dropout = {args.dropout}, alpha = {args.weight_decay}"
    plot_losses(histories, out / "fig01_loss_adam_vs_sgd.png",
                f"Figure 1: reconstruction loss, Adam vs SGD\n({settings})")
    n_done = min(len(s) for s in snapshots.values())
    shown = [e for e in (1, 2, 3, 5, 10, 15, 20, 30, n_done) if e <= n_done]
    shown = sorted(set(shown))
    if n_done:
        grid = torch.stack([torch.cat([watch.cpu()] + [snapshots[name][e - 1] for e in shown])
                            for name in ("Adam", "SGD")])
        plot_grid(grid, out / "fig07_training_progress.png",
                  "Figure 7: one validation image (an ankle boot) reconstructed after "
                  "each epoch",
                  row_labels=["(a) Adam", "(b) SGD"],
                  col_labels=["original"] + [f"epoch {e}" for e in shown])
    return histories


def refit(args, device, x_train, x_val, y_val, out):
    """Part 2 (section 3.2): the AE with the tuned values, saved for the other scripts."""
    params, source = load_tuned(args.out_dir, "ae", TABLE_4, "python tune.py ae")
    print(f"refit with {params} (from {'Table 4' if source == 'report' else source})")
    seed_everything(args.seed)
    model = nn.Sequential(Encoder(params["d"], params["dropout"]),
                          Decoder(params["d"], params["dropout"])).to(device)
    optimizer = make_optimizer(params["optimizer"], model.parameters(), params["lr"],
                               params["weight_decay"])
    history, _ = fit(model, optimizer, x_train, x_val, args, "refit")
    result = {"params": params, "source": source, **history,
              "pca_val_mse": pca_val_mse(x_train, x_val, params["d"])}
    if params["d"] > BOTTLENECK:  # the code passes through 64 units: its rank is at most 64
        result["pca_bottleneck_val_mse"] = pca_val_mse(x_train, x_val, BOTTLENECK)
    if history["diverged"]:
        return result, None
    plot_reconstructions(model, x_val, y_val, ["Bag"], out / "fig02_reconstruction_bag.png",
                         f"Figure 2: validation bags and their reconstructions (d = {params['d']})")
    plot_reconstructions(model, x_val, y_val, ["Pullover", "Ankle boot"],
                         out / "fig10_reconstructions.png",
                         f"Figure 10: more validation images reconstructed (d = {params['d']})")
    return result, model


def main(argv=None):
    args = parse_args(parser, QUICK, argv)
    print_settings(args)
    device = pick_device(args.device)
    out = out_dir(args.out_dir)
    path = out / "ae.json"
    results = load_results(path)  # keeps a part not run
    (x_train, _), (x_val, y_val) = load_train_val(args.data_dir, device, args.subset)
    print(f"data: {len(x_train)} training / {len(x_val)} validation images on {device}")
    run_info = {"settings": vars(args), "device": str(device)}
    # the refit takes its model and optimiser from Table 4 (or tuned_ae.json), not the flags
    refit_info = {"settings": {k: v for k, v in vars(args).items() if k not in COMPARE_ONLY},
                  "device": str(device)}
    table = []  # (run, d, AE val MSE, PCA val MSE)

    if args.part in ("all", "compare"):
        t0 = time.perf_counter()
        histories = compare_optimizers(args, device, x_train, x_val, y_val, out)
        results["compare"] = {**run_info, **histories, "wall_seconds": time.perf_counter() - t0}
        save_json(path, results)
        for name, h in histories.items():
            table.append((f"{name} (section 3.1)", args.d,
                          h["val_mse"][-1] if h["val_mse"] else float("nan"), h["pca_val_mse"]))

    if args.part in ("all", "refit"):
        t0 = time.perf_counter()
        refitted, model = refit(args, device, x_train, x_val, y_val, out)
        results["refit"] = {**refit_info, **refitted, "wall_seconds": time.perf_counter() - t0}
        save_json(path, results)
        if model is None:
            raise SystemExit("error: the refit diverged (see above); nothing saved to ae.pt. "
                             "Lower the learning rate in outputs/tuned_ae.json")
        table.append(("refit (Table 4)" if refitted["source"] == "report" else "refit (tuned)",
                      refitted["params"]["d"], refitted["val_mse"][-1], refitted["pca_val_mse"]))
        save_checkpoint(out / "ae.pt", {**refitted["params"], "epochs": args.epochs,
                                        "quick": args.quick, "seed": args.seed},
                        encoder=model[0].state_dict(), decoder=model[1].state_dict())

    print(f"\n{'run':22s} {'d':>4s} {'val MSE, AE':>12s} {'val MSE, PCA':>13s}")
    for run, d, ae_mse, pca_mse in table:
        print(f"{run:22s} {d:4d} {ae_mse:12.5f} {pca_mse:13.5f}")
    if args.part != "compare" and "pca_bottleneck_val_mse" in results["refit"]:
        print(f"the refit's code passes through {BOTTLENECK} units; PCA with {BOTTLENECK} "
              f"components: val MSE {results['refit']['pca_bottleneck_val_mse']:.5f}")
    diverged = [name for name, h in results["compare"].items()
                if isinstance(h, dict) and h.get("diverged")] if args.part != "refit" else []
    if diverged:   # the figures are drawn, but they are not the report's
        raise SystemExit(f"error: {' and '.join(diverged)} diverged (see above); lower the "
                         "learning rate (--lr)")
    print(f"done on {device}; results in {out}/")


if __name__ == "__main__":
    main()

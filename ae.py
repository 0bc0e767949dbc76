"""The convolutional autoencoder: sections 2.1, 3.1 and 3.2 of the report.

Part "compare" (section 3.1, Figures 1 and 7): the AE of Tables 1 and 2 trained twice from
the same initial weights and batch order, once with Adam and once with SGD (42 epochs,
batch 256, lr 0.0005, weight decay 0.0001, dropout 0.2, MSE loss).
Part "refit" (section 3.2, Table 4, Figures 2 and 10): the AE refitted with the values of
outputs/tuned_ae.json (from `python tune.py ae`), else Table 4's, and saved as
outputs/ae.pt for classify.py and explore.py.
Each run's validation MSE is printed beside PCA's with as many components, the linear
baseline an autoencoder has to beat.

    python ae.py              # both parts, 3 x 42 epochs: 12 min on a 2-core CPU
    python ae.py --quick      # 2,000 images, 2 epochs: 6 s
    python ae.py --part refit # only the refit

Measured (2-core CPU, Table 4's values): the refit reaches a validation MSE of 0.0114.
Writes to outputs/: fig01_loss_adam_vs_sgd.png, fig07_training_progress.png,
fig02_reconstruction_bag.png, fig10_reconstructions.png, ae.pt, ae.json.
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import (Decoder, Encoder, Parser, add_common_flags, batches, diverged,
                    first_of_classes, load_results, load_train_val, load_tuned,
                    make_optimizer, non_negative_float, out_dir, parse_args, pca, pick_device,
                    plain_log_axis, plot_grid, positive_float, positive_int, print_settings,
                    probability, pyplot, run, save_checkpoint, save_json, seed_everything)

TABLE_4 = {"d": 185, "optimizer": "Adam", "lr": 0.0058, "dropout": 0.005,
           "weight_decay": 1.038e-5}  # the tuned AE of section 3.2
QUICK = {"subset": 2000, "epochs": 2}
BOTTLENECK = 64  # the width of the layer before the code h (Table 1)


# -----------------------------------------------------------------------------
# Training: one epoch, the validation loss, the for-epoch loop

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
        if diverged(train_mse, val_mse):
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


@torch.no_grad()
def reconstruct(model, x):
    model.eval()
    x_hat = model(x)
    model.train()
    return x_hat.cpu()


def autoencoder(d, dropout):
    """Tables 1 and 2 in sequence: x -> h -> x_hat."""
    return nn.Sequential(Encoder(d, dropout), Decoder(d, dropout))


# -----------------------------------------------------------------------------
# The two parts

def compare_optimizers(args, device, x_train, x_val, watch):
    """Section 3.1: Adam against SGD from the same initial weights and batch order.
    Returns {name: history} and {name: reconstructions of `watch` after each epoch}."""
    seed_everything(args.seed)
    initial = autoencoder(args.d, args.dropout)
    baseline = pca_val_mse(x_train, x_val, args.d)  # the same for both optimisers
    histories, snapshots = {}, {}
    for name in ("Adam", "SGD"):
        model = autoencoder(args.d, args.dropout)
        model.load_state_dict(initial.state_dict())
        model.to(device)
        optimizer = make_optimizer(name, model.parameters(), args.lr, args.weight_decay)
        histories[name], snapshots[name] = fit(model, optimizer, x_train, x_val, args,
                                               f"{name:4s}", watch)
        histories[name]["pca_val_mse"] = baseline
    return histories, snapshots


def refit(args, device, x_train, x_val):
    """Section 3.2: the AE with the tuned values (Table 4, or tuned_ae.json's).
    Returns (results, model)."""
    params, source = load_tuned(args.out_dir, "ae", TABLE_4, "python tune.py ae")
    print(f"refit with {params} (from {'Table 4' if source == 'report' else source})")
    seed_everything(args.seed)
    model = autoencoder(params["d"], params["dropout"]).to(device)
    optimizer = make_optimizer(params["optimizer"], model.parameters(), params["lr"],
                               params["weight_decay"])
    history, _ = fit(model, optimizer, x_train, x_val, args, "refit")
    result = {"params": params, "source": source, **history,
              "pca_val_mse": pca_val_mse(x_train, x_val, params["d"])}
    if params["d"] > BOTTLENECK:  # the code passes through 64 units: its rank is at most 64
        result["pca_bottleneck_val_mse"] = pca_val_mse(x_train, x_val, BOTTLENECK)
    return result, model


# -----------------------------------------------------------------------------
# The recipe

def main(argv=None):
    args = parse_args(build_parser(), QUICK, argv)
    print_settings(args)
    device = pick_device(args.device)
    out = out_dir(args.out_dir)
    results = load_results(out / "ae.json")  # a part not run keeps its earlier entry
    (x_train, _), (x_val, y_val) = load_train_val(args.data_dir, device, args.subset)
    print(f"data: {len(x_train)} training / {len(x_val)} validation images on {device}")

    if args.part in ("all", "compare"):
        t0 = time.perf_counter()
        watch = x_val[first_of_classes(y_val, ["Ankle boot"])]  # (1, 1, 28, 28), Figure 7
        histories, snapshots = compare_optimizers(args, device, x_train, x_val, watch)
        results["compare"] = {"settings": vars(args), "device": str(device), **histories,
                              "wall_seconds": time.perf_counter() - t0}
        save_json(out / "ae.json", results)
        plot_compare(histories, snapshots, watch, args, out)

    if args.part in ("all", "refit"):
        t0 = time.perf_counter()
        result, model = refit(args, device, x_train, x_val)
        result = {"settings": refit_settings(args), "device": str(device), **result,
                  "wall_seconds": time.perf_counter() - t0}
        if result["diverged"]:
            raise SystemExit("error: the refit diverged (see above); nothing saved. "
                             "Lower the learning rate in outputs/tuned_ae.json")
        save_refit(model, result, results, args, out)
        plot_refit(model, x_val, y_val, result["params"]["d"], out)

    print_table(results, args)
    check_no_divergence(results, args)
    print(f"done on {device}; results in {out}/")


# -----------------------------------------------------------------------------
# Results and figures

def refit_settings(args):
    """The flags that apply to the refit: it takes its model and optimiser from Table 4
    (or tuned_ae.json), not from the flags of part 1."""
    return {k: v for k, v in vars(args).items()
            if k not in ("d", "lr", "weight_decay", "dropout")}


def save_refit(model, result, results, args, out):
    """ae.pt first, then ae.json: the results never describe a checkpoint not written."""
    save_checkpoint(out / "ae.pt", {**result["params"], "epochs": args.epochs,
                                    "quick": args.quick, "seed": args.seed},
                    encoder=model[0].state_dict(), decoder=model[1].state_dict())
    results["refit"] = result
    save_json(out / "ae.json", results)


def print_table(results, args):
    rows = []  # (run, d, AE val MSE, PCA val MSE)
    if args.part in ("all", "compare"):
        for name in ("Adam", "SGD"):
            h = results["compare"][name]
            rows.append((f"{name} (section 3.1)", args.d,
                         h["val_mse"][-1] if h["val_mse"] else float("nan"), h["pca_val_mse"]))
    if args.part in ("all", "refit"):
        r = results["refit"]
        rows.append(("refit (Table 4)" if r["source"] == "report" else "refit (tuned)",
                     r["params"]["d"], r["val_mse"][-1], r["pca_val_mse"]))
    print(f"\n{'run':22s} {'d':>4s} {'val MSE, AE':>12s} {'val MSE, PCA':>13s}")
    for run_name, d, ae_mse, pca_mse in rows:
        print(f"{run_name:22s} {d:4d} {ae_mse:12.5f} {pca_mse:13.5f}")
    if args.part != "compare" and "pca_bottleneck_val_mse" in results["refit"]:
        print(f"the refit's code passes through {BOTTLENECK} units; PCA with {BOTTLENECK} "
              f"components: val MSE {results['refit']['pca_bottleneck_val_mse']:.5f}")


def check_no_divergence(results, args):
    """Exit non-zero if Adam or SGD diverged: the figures are drawn, but not the report's."""
    if args.part == "refit":
        return
    names = [name for name in ("Adam", "SGD") if results["compare"][name]["diverged"]]
    if names:
        raise SystemExit(f"error: {' and '.join(names)} diverged (see above); lower the "
                         "learning rate (--lr)")


def plot_compare(histories, snapshots, watch, args, out):
    """Figure 1 (the losses) and Figure 7 (one image after each epoch)."""
    settings = f"d = {args.d}, lr = {args.lr}, dropout = {args.dropout}, alpha = {args.weight_decay}"
    plot_losses(histories, out / "fig01_loss_adam_vs_sgd.png",
                f"Figure 1: reconstruction loss, Adam vs SGD\n({settings})")
    n_done = min(len(s) for s in snapshots.values())
    shown = sorted({e for e in (1, 2, 3, 5, 10, 15, 20, 30, n_done) if e <= n_done})
    if not n_done:  # a run diverged in its first epoch: no Figure 7, not an earlier run's
        (out / "fig07_training_progress.png").unlink(missing_ok=True)
    else:
        grid = torch.stack([torch.cat([watch.cpu()] + [snapshots[name][e - 1] for e in shown])
                            for name in ("Adam", "SGD")])
        plot_grid(grid, out / "fig07_training_progress.png",
                  "Figure 7: one validation image (an ankle boot) reconstructed after "
                  "each epoch",
                  row_labels=["(a) Adam", "(b) SGD"],
                  col_labels=["original"] + [f"epoch {e}" for e in shown])


def plot_losses(histories, path, title):
    """Figure 1: training (solid) and validation (dashed) MSE per epoch, per optimiser."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, h), color in zip(histories.items(), ("tab:blue", "tab:orange")):
        epochs = range(1, len(h["train_mse"]) + 1)
        note = f" (diverged at epoch {h['diverged']})" if h["diverged"] else ""
        ax.plot(epochs, h["train_mse"], color=color, label=f"{name}, training{note}")
        ax.plot(epochs, h["val_mse"], color=color, linestyle="--", label=f"{name}, validation")
    ax.set_yscale("log")
    plain_log_axis(ax.yaxis)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("epoch")
    ax.set_ylabel("reconstruction loss (MSE per pixel, log scale)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_refit(model, x_val, y_val, d, out):
    """Figures 2 and 10: validation images above their reconstructions."""
    plot_reconstructions(model, x_val, y_val, ["Bag"], out / "fig02_reconstruction_bag.png",
                         f"Figure 2: validation bags and their reconstructions (d = {d})")
    plot_reconstructions(model, x_val, y_val, ["Pullover", "Ankle boot"],
                         out / "fig10_reconstructions.png",
                         f"Figure 10: more validation images reconstructed (d = {d})")


def plot_reconstructions(model, x_val, y_val, class_names, path, title, n=8):
    """For each class, a row of originals above their reconstructions."""
    rows, labels = [], []
    for name in class_names:
        x = x_val[first_of_classes(y_val, [name] * n)]
        rows += [x.cpu(), reconstruct(model, x)]
        labels += [f"{name}\noriginal", f"{name}\nreconstructed"]
    plot_grid(torch.stack(rows), path, title, row_labels=labels)


# -----------------------------------------------------------------------------
# Command line: the report's values are the defaults

def build_parser():
    parser = Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", default="all", choices=["all", "compare", "refit"],
                        help="compare: Adam vs SGD (section 3.1); refit: the tuned AE (section "
                             "3.2), with OUT_DIR/tuned_ae.json's values if it exists, else "
                             "Table 4's")
    parser.add_argument("--epochs", type=positive_int, default=42,
                        help="epochs of every run (section 2.1)")
    parser.add_argument("--batch-size", type=positive_int, default=256,
                        help="section 2.1: n = 256")
    parser.add_argument("--d", type=positive_int, default=2,
                        help="latent dimension of the Adam-vs-SGD runs; the report does not "
                             "state it, its notebook used d = 2")
    parser.add_argument("--lr", type=positive_float, default=0.0005,
                        help="learning rate of both Adam and SGD in part 1 (section 2.1; the "
                             "notebook gave SGD 0.001)")
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.0001,
                        help="weight decay alpha in part 1 (section 2.1)")
    parser.add_argument("--dropout", type=probability, default=0.2,
                        help="dropout dr of the linear layers in part 1 (section 2.1)")
    add_common_flags(parser)
    return parser


if __name__ == "__main__":
    run(main)

"""The convolutional autoencoder: sections 2.1, 3.1 and 3.2 of the report.

Part "compare" (section 3.1, Figures 1 and 7): the AE of Tables 1 and 2 trained twice from the
same initial weights and batch order, with Adam and with SGD (section 2.1: 42 epochs, batch
256, lr 0.0005, weight decay 0.0001, dropout 0.2, MSE loss). Part "refit" (section 3.2, Table
4, Figures 2 and 10): the AE with Table 4's values, saved as outputs/ae.pt for classify.py and
explore.py. Each validation MSE is printed beside PCA's with as many components.

    python ae.py              # both parts, 3 x 42 epochs: 12 min on a 2-core CPU
    python ae.py --quick      # 2,000 images, 2 epochs: 6 s
    python ae.py --part refit --params outputs/tuned_ae.json   # refit with tune.py's values

Measured (2-core CPU, Table 4's values): the refit reaches a validation MSE of 0.0114.
Writes to outputs/: fig01_loss_adam_vs_sgd.png, fig07_training_progress.png,
fig02_reconstruction_bag.png, fig10_reconstructions.png, ae.pt, ae.json; at d = 2 (the
compare part's) also fig_ae_codes_2d.png.
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import (CLASSES, Decoder, Encoder, batched, batches, bilinear, diverged,
                    first_of_classes, load_train_val, make_optimizer, pca, stop_if_diverged)
from plumbing.checkpoints import command_for, load_checkpoint, load_weights, save_checkpoint
from plumbing.cli import (Parser, add_common_flags, layer_width, non_negative_float, parse_args,
                          pick_device, positive_float, positive_int, print_settings, probability,
                          run, seed_everything)
from plumbing.figures import plot_curves, plot_grid, plot_latent_plane
from plumbing.files import check_results, out_dir, update_results
from plumbing.params import add_params_flag, check_param, resolve_params

SECTION_2_1 = {"d": 2, "lr": 0.0005, "dropout": 0.2,  # part compare; d is the notebook's
               "weight_decay": 0.0001}                # (the report does not state it)
TABLE_4 = {"d": 185, "optimizer": "Adam", "lr": 0.0058, "dropout": 0.005,
           "weight_decay": 1.038e-5}                  # part refit: the tuned AE of section 3.2
QUICK = {"subset": 2000, "epochs": 2}
BOTTLENECK = 64  # the width of the layer before the code h (Table 1)


def autoencoder(d, dropout):
    """Tables 1 and 2 in sequence: x (B, 1, 28, 28) -> h (B, d) -> x_hat (B, 1, 28, 28)."""
    return nn.Sequential(Encoder(d, dropout), Decoder(d, dropout))


# --- Training: one epoch, the validation loss, the for-epoch loop ------------

def train_epoch(model, optimizer, x, batch_size, generator):
    """One pass over x in shuffled batches; returns {"mse": mean training MSE}."""
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
    return {"mse": total.item() / len(x)}


@torch.no_grad()
def evaluate(model, x, batch_size=1024):
    """{"mse": mean squared error per pixel over x}, with dropout off."""
    model.eval()
    total = sum(F.mse_loss(model(xb), xb, reduction="sum") for xb in x.split(batch_size))
    return {"mse": total.item() / x.numel()}


def fit(model, optimizer, x_train, x_val, epochs, batch_size, seed, on_epoch=None, name=""):
    """Train for `epochs`, validating after each; returns the history. After every epoch,
    on_epoch(epoch, validation) if given (tune.py reports to Optuna there). A loss that is not
    a finite number stops it: history["diverged"] = that epoch, else None."""
    generator = torch.Generator().manual_seed(seed)  # the batch order
    history = {"train_mse": [], "val_mse": [], "seconds": [], "diverged": None}
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        train = train_epoch(model, optimizer, x_train, batch_size, generator)
        val = evaluate(model, x_val)
        seconds = time.perf_counter() - t0
        if diverged(train["mse"], val["mse"]):
            print(f"{name} diverged at epoch {epoch} (training MSE {train['mse']}): "
                  "the learning rate is too large")
            history["diverged"] = epoch
            break
        history["train_mse"].append(train["mse"])
        history["val_mse"].append(val["mse"])
        history["seconds"].append(seconds)
        print(f"{name} epoch {epoch:2d}/{epochs}: train mse {train['mse']:.5f}, "
              f"val mse {val['mse']:.5f}, {seconds:.1f}s", flush=True)
        if on_epoch is not None:
            on_epoch(epoch, val)
    return history


@torch.no_grad()
def reconstruct(model, x):
    model.eval()
    return model(x).cpu()


def pca_val_mse(x_train, x_val, k):
    """Validation MSE of PCA with k components fitted on the training images."""
    mean, components, _ = pca(x_train.flatten(1), k)          # (784,), (k, 784)
    z = (x_val.flatten(1) - mean) @ components.T              # (N, k)
    x_hat = z @ components + mean                             # (N, 784)
    return F.mse_loss(x_hat, x_val.flatten(1)).item()


# --- The two parts -----------------------------------------------------------

def compare_optimizers(p, args, device, x_train, x_val, watch):
    """Section 3.1: Adam against SGD from the same initial weights and batch order: {name: history},
    each with "snapshots" (`watch` reconstructed after each epoch) and the trained "model"."""
    seed_everything(args.seed)
    initial = autoencoder(p["d"], p["dropout"])
    baseline = pca_val_mse(x_train, x_val, p["d"])  # the same for both optimisers
    histories = {}
    for name in ("Adam", "SGD"):
        model = autoencoder(p["d"], p["dropout"])
        model.load_state_dict(initial.state_dict())
        model.to(device)
        optimizer = make_optimizer(name, model.parameters(), p["lr"], p["weight_decay"])
        snapshots = []                               # Figure 7
        histories[name] = fit(model, optimizer, x_train, x_val, args.epochs, args.batch_size,
                              args.seed, name=f"{name:4s}",
                              on_epoch=lambda *_: snapshots.append(reconstruct(model, watch)))
        histories[name].update(pca_val_mse=baseline, snapshots=snapshots, model=model)
    return histories


def refit(p, args, device, x_train, x_val):
    """Section 3.2: the AE with Table 4's values (or --params'): (history with PCA's, model)."""
    seed_everything(args.seed)
    model = autoencoder(p["d"], p["dropout"]).to(device)
    optimizer = make_optimizer(p["optimizer"], model.parameters(), p["lr"], p["weight_decay"])
    history = fit(model, optimizer, x_train, x_val, args.epochs, args.batch_size, args.seed,
                  name="refit")
    history["pca_val_mse"] = pca_val_mse(x_train, x_val, p["d"])
    if p["d"] > BOTTLENECK:  # the code passes through 64 units: its rank is at most 64
        history["pca_bottleneck_val_mse"] = pca_val_mse(x_train, x_val, BOTTLENECK)
    return history, model


def run_compare(params, args, device, x_train, x_val, y_val, out):
    """Part compare: train Adam and SGD, stop if either diverged, save the results, draw Figures
    1 and 7 (and, at d = 2, the codes' plane)."""
    print_params("compare", params, "section 2.1")
    t0 = time.perf_counter()
    watch = x_val[first_of_classes(y_val, ["Ankle boot"])]  # (1, 1, 28, 28), Figure 7
    histories = compare_optimizers(params.values, args, device, x_train, x_val, watch)
    stop_if_diverged(histories)
    save_compare(histories, params, args, device, time.perf_counter() - t0, out)
    plot_compare(histories, watch, params.values, out)  # figures last: a failed run replaces none
    plot_codes_2d(histories["Adam"]["model"], x_train, x_val, y_val, out)


def run_refit(params, args, device, x_train, x_val, y_val, out):
    """Part refit: train the AE, stop if it diverged, save ae.pt and the results, draw Figures 2
    and 10."""
    print_params("refit", params, "Table 4")
    t0 = time.perf_counter()
    history, model = refit(params.values, args, device, x_train, x_val)
    stop_if_diverged({"refit": history})
    save_refit(model, history, params, args, device, time.perf_counter() - t0, out)
    plot_refit(model, x_val, y_val, params.values["d"], out)


# --- main(): flags, data, the two parts --------------------------------------

def main(argv=None):
    args = parse_args(build_parser(), QUICK, argv)
    print_settings(args)
    parts = {part: resolve_params(args, table, "ae")  # Params(values, source)
             for part, table in (("compare", SECTION_2_1), ("refit", TABLE_4))
             if args.part in ("all", part)}
    device = pick_device(args.device)
    out = out_dir(args.out_dir)
    check_results(out / "ae.json")  # damaged: refused now, not after the training
    (x_train, _), (x_val, y_val) = load_train_val(args.data_dir, device, args.subset)
    print(f"data: {len(x_train)} training / {len(x_val)} validation images on {device}")

    if "compare" in parts:
        run_compare(parts["compare"], args, device, x_train, x_val, y_val, out)
    if "refit" in parts:
        run_refit(parts["refit"], args, device, x_train, x_val, y_val, out)
    print(f"done on {device}; results in {out}/")


# --- Results and figures -----------------------------------------------------

def print_params(part, params, table):
    """The part's values and where they came from: the report's `table`, a file, the flags."""
    where = table if params.source == "report" else params.source
    print(f"{part}: {', '.join(f'{k} = {v}' for k, v in params.values.items())} (from {where})")


def save_compare(histories, params, args, device, seconds, out):
    p = params.values
    runs = {name: {k: v for k, v in h.items() if k not in ("snapshots", "model")}
            for name, h in histories.items()}
    update_results(out / "ae.json", {"compare": {
        "settings": vars(args), "params": p, "source": params.source, "device": str(device),
        **runs, "wall_seconds": seconds}})
    for name, h in histories.items():
        print_row(f"{name} (section 3.1)", p["d"], h)


def save_refit(model, history, params, args, device, seconds, out):
    """ae.pt first, then ae.json: the results never describe a checkpoint not written."""
    p, source = params.values, params.source
    checkpoint = save_checkpoint(out / "ae.pt", {**p, "epochs": args.epochs,
                                                 "quick": args.quick, "seed": args.seed},
                                 encoder=model[0].state_dict(), decoder=model[1].state_dict())
    update_results(out / "ae.json", {"refit": {
        "settings": vars(args), "params": p, "source": source, "device": str(device),
        **history, "wall_seconds": seconds, "checkpoint": checkpoint}})
    print_row("refit (Table 4)" if source == "report" else "refit", p["d"], history)
    if "pca_bottleneck_val_mse" in history:
        print(f"the refit's code passes through {BOTTLENECK} units; PCA with {BOTTLENECK} "
              f"components: val MSE {history['pca_bottleneck_val_mse']:.5f}")


def load_ae(path):
    """(ae_ckpt, encoder, decoder) of the ae.pt at path, read back for classify.py,
    tune.py and explore.py: checked to hold the settings and weights this code builds."""
    made_by = "python ae.py"
    ae_ckpt = load_checkpoint(path, made_by, key="encoder")  # the VAE's is refused here
    s = ae_ckpt["settings"]
    for key in ("d", "dropout", "optimizer", "lr", "weight_decay"):  # as --params checks them
        check_param(path, key, s.get(key), fix=f"rerun `{command_for(made_by, path)}`")
    encoder = load_weights(Encoder(s["d"], s["dropout"]), ae_ckpt, "encoder", path, made_by)
    decoder = load_weights(Decoder(s["d"], s["dropout"]), ae_ckpt, "decoder", path, made_by)
    return ae_ckpt, encoder, decoder


def print_row(run_name, d, history):
    print(f"{run_name:22s} d = {d:3d}: val MSE, AE {history['val_mse'][-1]:.5f}; "
          f"PCA with {d} components {history['pca_val_mse']:.5f}")


def plot_compare(histories, watch, p, out):
    """Figure 1 (the losses) and Figure 7 (one image after each epoch)."""
    plot_curves({"": {name: (h["train_mse"], h["val_mse"]) for name, h in histories.items()}},
                out / "fig01_loss_adam_vs_sgd.png",
                f"Figure 1: reconstruction loss, Adam vs SGD\n(d = {p['d']}, lr = {p['lr']}, "
                f"dropout = {p['dropout']}, alpha = {p['weight_decay']})",
                "reconstruction loss (MSE per pixel, log scale)", log=True)
    n_done = len(histories["Adam"]["snapshots"])
    shown = sorted({e for e in (1, 2, 3, 5, 10, 15, 20, 30, n_done) if e <= n_done})
    grid = torch.stack([torch.cat([watch.cpu(), *(h["snapshots"][e - 1] for e in shown)])
                        for h in histories.values()])           # (2, 1 + len(shown), 1, 28, 28)
    plot_grid(grid, out / "fig07_training_progress.png",
              "Figure 7: one validation image (an ankle boot) reconstructed after each epoch",
              row_labels=["(a) Adam", "(b) SGD"],
              col_labels=["original"] + [f"epoch {e}" for e in shown])


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


@torch.no_grad()
def plot_codes_2d(model, x_train, x_val, y_val, out, n=20):
    """At d = 2 (section 2.1's): the codes of the validation images, coloured by class, beside
    the decoder over an n x n grid of the min-max box of the codes of the training images,
    which explore.py's notebook sampler draws from (explore.sample_uniform_box): a code in
    the box's empty corners is drawn as often as one among the images."""
    encoder, decoder = model.eval()
    if encoder.d != 2:
        return
    codes, z_train = batched(encoder, x_val), batched(encoder, x_train)     # (N, 2) each
    lo, hi = z_train.min(0).values, z_train.max(0).values                    # (2,): z1, z2
    corners = torch.stack([torch.stack([lo[0], hi[1]]), hi, lo, torch.stack([hi[0], lo[1]])])
    z = bilinear(corners, n)                             # (n, n, 2), corners TL, TR, BL, BR
    plot_latent_plane(codes, y_val, CLASSES, z, decoder(z.flatten(0, 1)).unflatten(0, (n, n)),
                      out / "fig_ae_codes_2d.png",
                      "The AE's latent plane (d = 2, Adam, section 3.1): where the validation "
                      "images lie, and what the decoder draws there",
                      [f"codes of the {len(x_val):,} validation images",
                       f"decoded z on a {n} x {n} grid of the min-max box of the training "
                       "codes\n(the box explore.py's Figure 4 samples from)"])


# --- Command line: the report's values are the defaults ----------------------

def build_parser():
    parser = Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", default="all", choices=["all", "compare", "refit"],
                        help="compare: Adam vs SGD with section 2.1's values (section 3.1); "
                             "refit: the tuned AE with Table 4's values (section 3.2)")
    parser.add_argument("--epochs", type=positive_int, default=42,
                        help="epochs of every run (section 2.1)")
    add_params_flag(parser, "ae")
    # Each of these sets the value in every part run; not given, each part takes its own
    parser.add_argument("--d", type=layer_width, default=None,
                        help="latent dimension, 1 to 1024 (default: compare 2, the notebook's: "
                             "the report does not state it; refit 185, Table 4)")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="learning rate (default: compare 0.0005 for both, section 2.1, where "
                             "the notebook gave SGD 0.001; refit 0.0058, Table 4)")
    parser.add_argument("--weight-decay", type=non_negative_float, default=None,
                        help="weight decay alpha (default: compare 0.0001, section 2.1; "
                             "refit 1.038e-5, Table 4)")
    parser.add_argument("--dropout", type=probability, default=None,
                        help="dropout dr of the linear layers (default: compare 0.2, section "
                             "2.1; refit 0.005, Table 4)")
    add_common_flags(parser, batch_size=True)
    return parser


if __name__ == "__main__":
    run(main)

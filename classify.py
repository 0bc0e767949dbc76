"""The pretrained encoder as a classifier: sections 2.3 and 3.3 of the report (Tables 3, 5
and 6), and, beyond the report, what the pretraining buys when labels are few.

Part "table6" (section 3.3): the encoder of outputs/ae.pt (from `python ae.py`) with the
MLP of Table 3 on top, fine-tuned for 10 epochs on all 60,000 training images and tested
once on the 10,000 test images. The encoder keeps the AE's optimiser settings (Table 4);
the MLP uses Table 5, or outputs/tuned_classifier.json from `python tune.py classifier`.
Prints Table 6 (per-class precision, recall, F1) beside the report's F1 and 90.08 %.
`--recipe ours` trains the same network with our recipe (OURS below); `--recipe both`
runs the two. Every run is repeated for --seeds seeds: the tables give mean and std.
Part "labels" (beyond the report): accuracy against the number of labelled images, for the
encoder fine-tuned, frozen, or trained from random weights (see labels_part).

    python classify.py                  # Table 6, Table 5's recipe, 3 seeds: about 2 min
    python classify.py --recipe both    # Table 5's recipe and ours side by side: 4 min
    python classify.py --part labels --recipe ours   # the labels part, 3 seeds: 26 min
    python classify.py --quick          # 2,500 images, 2 epochs, 1 seed: 6 s

Measured on a 2-core CPU (one thread), test accuracy over 3 seeds: Table 5's recipe
89.21 +- 0.53 %, our recipe 90.18 +- 0.19 %; the report's 90.08 %.
Writes to outputs/: classify.json, classify_table6.md, fig_confusion_matrix.png (Table 6);
classify_labels.md, fig_label_efficiency.png (labels).
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import (CLASSES, Encoder, Parser, add_common_flags, batches, command_for,
                    diverged, kaiming_init, load_checkpoint, load_results, load_test,
                    load_train_val, load_tuned, load_weights, make_optimizer, out_dir,
                    parse_args, pick_device, positive_int, print_settings, pyplot, renamed,
                    run, save_json, seed_everything)

TABLE_5 = {"no1": 12, "no2": 74, "mlp_optimizer": "Adam", "mlp_lr": 0.0002,
           "mlp_dropout": 0.0676, "mlp_weight_decay": 0.1679}  # the tuned MLP of section 3.3
# Table 6, column "F1 CL": the report's per-class test F1 (%), and its accuracy and time
REPORT_F1 = [85.36, 98.24, 83.02, 89.97, 84.04, 97.65, 72.82, 95.77, 97.41, 96.74]
REPORT_ACCURACY = 90.08     # % on the 10,000 test images
REPORT_SECONDS = 61         # 10 epochs "on a GPU"
# Our recipe, chosen on the 48,000 / 12,000 validation split, never on the test set.
# Same network shape (Table 3), same 10 epochs, same data, no augmentation.
OURS = {"no1": 128, "no2": 74,          # No1 = 12 is a narrow bottleneck after d = 185
        "mlp_optimizer": "Adam",
        "mlp_lr": 0.006,                # peak lr of the MLP (Table 5: 0.0002, constant)
        "mlp_dropout": 0.1,
        "mlp_weight_decay": 0.0,        # Table 5's 0.1679 holds the MLP's weights near 0
        "encoder_lr": None,             # peak lr of the encoder: None = the AE's (Table 4)
        "schedule": "one-cycle"}        # lr warms up for 30 % of the steps, then anneals
RECIPE_NAMES = {"table5": "Table 5 recipe", "ours": "our recipe"}  # in tables and figures
QUICK = {"subset": 2000, "epochs": 2, "seeds": 1, "labels": [100, 500]}


# -----------------------------------------------------------------------------
# Model: Table 3

class Classifier(nn.Module):
    """Table 3: the encoder of Table 1, x (B, 1, 28, 28) -> h (B, d), then an MLP
    d -> No1 -> No2 -> 10 with ReLU and dropout after both hidden layers; returns logits."""

    def __init__(self, encoder, no1, no2, dropout):
        super().__init__()
        self.encoder = encoder
        self.mlp = kaiming_init(nn.Sequential(
            nn.Linear(encoder.d, no1), nn.ReLU(), nn.Dropout(dropout),  # (B, No1)
            nn.Linear(no1, no2), nn.ReLU(), nn.Dropout(dropout),        # (B, No2)
            nn.Linear(no2, len(CLASSES)),                               # (B, 10) logits
        ))

    def forward(self, x):
        return self.mlp(self.encoder(x))


def load_encoder(path, pretrained=True):
    """The encoder of the autoencoder in `path` and the AE's settings (Table 4). With
    pretrained=False, the same shape with fresh Kaiming weights (the seed decides them)."""
    made_by = "python ae.py"
    ckpt = load_checkpoint(path, made_by, key="encoder")  # the VAE's is refused here
    s = ckpt["settings"]
    missing = {"d", "dropout", "optimizer", "lr", "weight_decay"} - set(s)
    if missing:
        raise SystemExit(f"error: {path} lacks the settings {sorted(missing)}; rerun "
                         f"`{command_for(made_by, path)}`")
    encoder = Encoder(s["d"], s["dropout"])
    if pretrained:
        load_weights(encoder, ckpt, "encoder", path, made_by)
    return encoder, s


def make_classifier_optimizers(model, ae_settings, mlp_params, encoder_lr=None):
    """Section 2.3: two optimisers. The encoder's is the autoencoder's (Table 4: optimiser,
    lr, weight decay); the MLP's is Table 5's (or a tuned or our recipe's). A frozen
    encoder (no parameter requires a gradient) gets none."""
    optimizers = [make_optimizer(mlp_params["mlp_optimizer"], model.mlp.parameters(),
                                 mlp_params["mlp_lr"], mlp_params["mlp_weight_decay"])]
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    if encoder_params:
        optimizers.append(make_optimizer(ae_settings["optimizer"], encoder_params,
                                         encoder_lr or ae_settings["lr"],
                                         ae_settings["weight_decay"]))
    return optimizers


def one_cycle(optimizers, total_steps):
    """Smith & Topin (2019): each lr rises from peak / 25 to its peak over the first 30 %
    of the steps, then falls to peak / 10^4 along a cosine. Stepped once per batch."""
    return [torch.optim.lr_scheduler.OneCycleLR(o, max_lr=o.param_groups[0]["lr"],
                                                total_steps=total_steps)
            for o in optimizers]


# -----------------------------------------------------------------------------
# Training: one epoch, predictions, accuracy

def train_epoch(model, optimizers, x, y, batch_size, generator, schedulers=()):
    """One pass over (x, y) in shuffled batches; returns the mean training cross-entropy."""
    model.train()
    total = torch.zeros((), device=x.device)
    for idx in batches(len(x), batch_size, x.device, generator=generator):
        logits = model(x[idx])                    # (B, 10)
        loss = F.cross_entropy(logits, y[idx])    # section 2.3: -log softmax(logits)[label]
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
        total += loss.detach() * len(idx)         # stays on the device: no sync per batch
    return total.item() / len(x)


@torch.no_grad()
def predict(model, x, batch_size=1024):
    """Predicted labels (N,), with dropout off."""
    model.eval()
    labels = torch.cat([model(xb).argmax(1) for xb in x.split(batch_size)])
    model.train()
    return labels


def evaluate(model, x, y):
    """Accuracy: the fraction of images whose predicted label is right."""
    return (predict(model, x) == y).float().mean().item()


# -----------------------------------------------------------------------------
# One training run, the for-epoch loop: used by both parts (and by tune.py)

def recipe_params(name, args):
    """(MLP parameters, encoder peak lr or None, schedule, where they came from)."""
    if name == "table5":
        mlp_params, source = load_tuned(args.out_dir, "classifier", TABLE_5,
                                        "python tune.py classifier")
        return mlp_params, None, "constant", "Table 5" if source == "report" else source
    return ({k: OURS[k] for k in TABLE_5}, OURS["encoder_lr"], OURS["schedule"],
            "OURS in classify.py")


def recipe_label(recipe, source):
    """The recipe's name in tables and figures: "Table 5 recipe" only where Table 5's values
    were used, not those of a tuned_classifier.json."""
    if recipe == "table5" and source != "Table 5":
        return f"report's recipe, values of {source.rsplit('/', 1)[-1]}"
    return RECIPE_NAMES[recipe]


def train_classifier(args, recipe, x, y, device, seed, mode="fine-tuned", steps=None,
                     log=True):
    """Train the classifier of Table 3 on (x, y); returns (model, seconds, steps taken).

    mode: "fine-tuned" (pretrained encoder, trained with its own optimiser), "frozen"
    (pretrained encoder fixed, only the MLP trained), "random" (fresh encoder weights).
    steps: train for this many batches (rounded up to whole epochs) instead of args.epochs.
    """
    mlp_params, encoder_lr, schedule, _ = recipe_params(recipe, args)
    seed_everything(seed)
    encoder, ae_settings = load_encoder(args.checkpoint, pretrained=mode != "random")
    model = Classifier(encoder, mlp_params["no1"], mlp_params["no2"],
                       mlp_params["mlp_dropout"]).to(device)
    batch_size = min(args.batch_size, len(x))
    steps_per_epoch = math.ceil(len(x) / batch_size)
    epochs = args.epochs if steps is None else math.ceil(steps / steps_per_epoch)
    if mode == "frozen":
        # A frozen encoder (dropout off) maps each image to the same h in every epoch:
        # compute h once, (N, d), and train the MLP alone on it.
        model.encoder.requires_grad_(False).eval()
        with torch.no_grad():
            x = torch.cat([model.encoder(xb) for xb in x.split(10_000)])
    optimizers = make_classifier_optimizers(model, ae_settings, mlp_params, encoder_lr)
    schedulers = one_cycle(optimizers, epochs * steps_per_epoch) if schedule == "one-cycle" else ()
    trained = model.mlp if mode == "frozen" else model
    generator = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        t_epoch = time.perf_counter()
        loss = train_epoch(trained, optimizers, x, y, batch_size, generator, schedulers)
        if diverged(loss):
            raise SystemExit(f"error: the {recipe} recipe diverged at epoch {epoch} "
                             f"(loss {loss}); lower its learning rates")
        if log:
            print(f"{recipe} seed {seed} epoch {epoch:2d}/{epochs}: train loss {loss:.4f}, "
                  f"{time.perf_counter() - t_epoch:.1f}s")
    seconds = time.perf_counter() - t0
    model.encoder.requires_grad_(True)
    return model, seconds, epochs * steps_per_epoch


# -----------------------------------------------------------------------------
# Metrics of Table 6, from the confusion matrix

def confusion_matrix(y_true, y_pred, k=len(CLASSES)):
    """C[i, j] = number of images of class i predicted as class j, shape (k, k)."""
    return torch.bincount(y_true.cpu() * k + y_pred.cpu(), minlength=k * k).reshape(k, k)


def per_class_metrics(cm):
    """precision_j = C[j, j] / sum_i C[i, j],  recall_i = C[i, i] / sum_j C[i, j],
    F1 = 2 P R / (P + R) (0 where P + R = 0), support = row sums; accuracy = trace / sum."""
    cm = cm.double()
    tp = cm.diag()
    precision = tp / cm.sum(0).clamp(min=1)
    recall = tp / cm.sum(1).clamp(min=1)
    f1 = torch.where(precision + recall > 0,
                     2 * precision * recall / (precision + recall), torch.zeros_like(tp))
    return {"precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
            "support": cm.sum(1).long().tolist(), "accuracy": (tp.sum() / cm.sum()).item()}


def mean_std(values):
    t = torch.tensor(values, dtype=torch.float64)
    return t.mean().item(), (t.std().item() if len(t) > 1 else 0.0)


# -----------------------------------------------------------------------------
# The recipe

def main(argv=None):
    args = parse_args(build_parser(), QUICK, argv)
    args.checkpoint = args.checkpoint or f"{args.out_dir}/ae.pt"
    print_settings(args)
    device = pick_device(args.device)
    out = out_dir(args.out_dir)
    results = load_results(out / "classify.json")  # a part not run keeps its earlier entry
    load_encoder(args.checkpoint)  # a missing or wrong checkpoint fails before any data
    t_start = time.perf_counter()
    # Section 3.3: the final classifier trains on all the training data (the 48,000 of
    # the split and its 12,000 validation images) and is tested once on the test set.
    (x_train, y_train), (x_val, y_val) = load_train_val(args.data_dir, device, args.subset)
    x, y = torch.cat([x_train, x_val]), torch.cat([y_train, y_val])
    x_test, y_test = load_test(args.data_dir, device, args.subset)
    print(f"data: {len(x)} training / {len(x_test)} test images on {device}")
    recipes = ["table5", "ours"] if args.recipe == "both" else [args.recipe]
    results["report_table6"] = {"f1": dict(zip(CLASSES, REPORT_F1)),
                                "accuracy": REPORT_ACCURACY, "seconds": REPORT_SECONDS}
    run_info = {"settings": vars(args), "device": str(device)}  # kept beside each part

    if args.part in ("table6", "all"):
        results["table6"] = table6_part(args, recipes, device, x, y, x_test, y_test, out)
        results["table6_run"] = run_info
        save_json(out / "classify.json", results)
    if args.part in ("labels", "all"):
        results["labels"] = {recipe: labels_part(args, recipe, device, x, y, x_test, y_test,
                                                 out, suffix="" if i == 0 else f"_{recipe}")
                             for i, recipe in enumerate(recipes)}
        results["labels_run"] = run_info

    run_info["wall_seconds"] = time.perf_counter() - t_start
    save_json(out / "classify.json", results)
    print(f"done in {run_info['wall_seconds']:.0f}s on {device}; results in {out}/")


# -----------------------------------------------------------------------------
# The two parts

def table6_part(args, recipes, device, x, y, x_test, y_test, out):
    """Fine-tune on all training images for args.epochs, evaluate once on the test set."""
    results = {}
    for recipe in recipes:
        mlp_params, encoder_lr, schedule, source = recipe_params(recipe, args)
        print(f"\nrecipe {recipe}: MLP {mlp_params} from {source}; encoder lr "
              f"{encoder_lr or 'of the autoencoder'}; {schedule} lr")
        runs = []
        for seed in range(args.seed, args.seed + args.seeds):
            model, seconds, _ = train_classifier(args, recipe, x, y, device, seed)
            cm = confusion_matrix(y_test, predict(model, x_test))
            runs.append({"seed": seed, "seconds": seconds, "confusion": cm.tolist(),
                         **per_class_metrics(cm)})
            print(f"{recipe} seed {seed}: test accuracy {100 * runs[-1]['accuracy']:.2f} % "
                  f"in {seconds:.0f}s")
        accuracy = mean_std([r["accuracy"] for r in runs])
        results[recipe] = {
            "mlp": mlp_params, "source": source, "encoder_lr": encoder_lr, "schedule": schedule,
            "runs": runs, "accuracy_mean": accuracy[0], "accuracy_std": accuracy[1],
            "seconds_mean": mean_std([r["seconds"] for r in runs])[0],
            "support": runs[0]["support"],
            "mean_metrics": {k: torch.tensor([r[k] for r in runs]).mean(0).tolist()
                             for k in ("precision", "recall", "f1")}}
        shown = runs[0]
        plot_confusion_matrix(torch.tensor(shown["confusion"]),
                              out / ("fig_confusion_matrix.png" if recipe == recipes[0]
                                     else f"fig_confusion_matrix_{recipe}.png"),
                              f"Confusion matrix on the {len(y_test):,} test images\n({recipe_label(recipe, source)}, "
                              f"seed {shown['seed']}: accuracy {100 * shown['accuracy']:.2f} %)")
    markdown = table6_markdown(results, args.seeds)
    (out / "classify_table6.md").write_text("# Table 6: test results per class\n\n" + markdown)
    print("\nTable 6\n" + markdown)
    return results


WAYS = {"fine-tuned": "(a) pretrained encoder, fine-tuned",
        "frozen": "(b) pretrained encoder, frozen (MLP only)",
        "random": "(c) random initial weights"}


def labels_part(args, recipe, device, x, y, x_test, y_test, out, suffix=""):
    """Test accuracy of the three ways of training against the number of labels.

    Section 2.3 argues that pretraining pays when labels are few. With 100, 1,000, 10,000
    and 60,000 labelled images, balanced over the classes, the same network is trained
    three ways (WAYS): the pretrained encoder fine-tuned, the pretrained encoder frozen
    (only the MLP trained), everything from random weights.
    Budget rule: every run takes the optimisation steps of the 10-epoch run on all 60,000
    images (2,350 steps of 256 images), rounded up to whole epochs (2,352 with 1,000
    images, 2,360 with 10,000); a set smaller than a batch is one batch.
    Written to classify_labels{suffix}.md and fig_label_efficiency{suffix}.png.
    """
    counts = [n for n in args.labels if n <= len(x)]
    if len(counts) < len(args.labels):
        print(f"labels: skipping counts above the {len(x)} training images")
    if not counts:
        raise SystemExit(f"error: every --labels count exceeds the {len(x)} training images")
    steps = args.epochs * math.ceil(len(x) / args.batch_size)   # the budget rule
    *_, source = recipe_params(recipe, args)
    label = recipe_label(recipe, source)
    print(f"\nlabels ({recipe} recipe): every run takes {steps} optimisation steps, "
          "rounded up to whole epochs")
    table = {mode: {} for mode in WAYS}
    for n in counts:
        for mode in WAYS:
            accuracies = []
            for seed in range(args.seed, args.seed + args.seeds):
                idx = balanced_subset(y, n, seed)
                model, seconds, steps_taken = train_classifier(args, recipe, x[idx], y[idx], device,
                                                        seed, mode, steps, log=False)
                accuracies.append(evaluate(model, x_test, y_test))
                print(f"labels {n:6d}, {mode:10s}, seed {seed}: test accuracy "
                      f"{100 * accuracies[-1]:.2f} % ({steps_taken} steps, {seconds:.0f}s)")
            mean, std = mean_std(accuracies)
            table[mode][str(n)] = {"mean": mean, "std": std, "runs": accuracies}
    lines = ["| labelled images | " + " | ".join(WAYS.values()) + " |",
             "|---:|" + "---:|" * len(WAYS)]
    for n in counts:
        lines.append(f"| {n:,} | " + " | ".join(
            f"{100 * table[m][str(n)]['mean']:.2f} ± {100 * table[m][str(n)]['std']:.2f}"
            for m in WAYS) + " |")
    markdown = ("\n".join(lines) + f"\n\nTest accuracy (%), mean ± standard deviation over "
                f"{args.seeds} seed(s); {label}; every run {steps} optimisation steps "
                f"rounded up to whole epochs (batches of min({args.batch_size}, n) images).\n")
    (out / f"classify_labels{suffix}.md").write_text(
        "# Test accuracy against the number of labels\n\n" + markdown)
    print("\n" + markdown)
    plot_label_efficiency(table, counts, out / f"fig_label_efficiency{suffix}.png",
                          f"What pretraining buys: test accuracy against labels\n"
                          f"({label}, {steps} steps per run, mean ± sd of "
                          f"{args.seeds} seed(s))")
    return {"recipe": recipe, "label": label, "steps": steps, "accuracy": table}


def balanced_subset(y, n, seed):
    """Indices of n images, n / 10 of each class, drawn by a generator seeded with `seed`
    (so the same n and seed give the same images on every machine). Sorted."""
    generator = torch.Generator().manual_seed(seed)
    per_class = n // len(CLASSES)
    picked = []
    for c in range(len(CLASSES)):
        members = (y.cpu() == c).nonzero().flatten()
        if len(members) < per_class:
            raise SystemExit(f"error: --labels {n} needs {per_class} images of class "
                             f"{CLASSES[c]!r}, the training set has {len(members)}")
        picked.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(picked).sort().values.to(y.device)


# -----------------------------------------------------------------------------
# Figures and tables

def plot_confusion_matrix(cm, path, title):
    """The confusion matrix of the test set, counts in the cells, class names on the axes."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.imshow(cm, cmap="Blues")
    k = len(CLASSES)
    for i in range(k):
        for j in range(k):
            n = int(cm[i, j])
            ax.text(j, i, str(n), ha="center", va="center", fontsize=8,
                    color="white" if n > cm.max() / 2 else "black")
    ax.set_xticks(range(k), CLASSES, rotation=45, ha="right")
    ax.set_yticks(range(k), CLASSES)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_label_efficiency(table, counts, path, title):
    """Test accuracy against the number of labels, one line per way of training,
    mean over seeds with the standard deviation as error bars."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for mode, label in WAYS.items():
        mean = [100 * table[mode][str(n)]["mean"] for n in counts]
        std = [100 * table[mode][str(n)]["std"] for n in counts]
        ax.errorbar(counts, mean, yerr=std, marker="o", capsize=4, label=label)
    ax.axhline(100 / len(CLASSES), color="gray", linestyle=":", label="chance (10 %)")
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(counts, [f"{n:,}" for n in counts])
    ax.set_xlabel("labelled training images (balanced over the 10 classes, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def table6_markdown(results, n_seeds):
    """Table 6 as markdown: the report's F1 beside ours, per class; precision, recall and
    F1 are means over the seeds, in %."""
    names = list(results)
    head = "| class | F1 CL, the report's own |"
    rule = "|---|---:|"
    for name in names:
        label = recipe_label(name, results[name]["source"])
        head += f" P, {label} | R, {label} | F1, {label} |"
        rule += "---:|---:|---:|"
    head += " n |"
    rule += "---:|"
    lines = [head, rule]
    for c, cls in enumerate(CLASSES):
        row = f"| {cls} | {REPORT_F1[c]:.2f} |"
        for name in names:
            m = results[name]["mean_metrics"]
            row += f" {100 * m['precision'][c]:.2f} | {100 * m['recall'][c]:.2f} | {100 * m['f1'][c]:.2f} |"
        lines.append(row + f" {results[names[0]]['support'][c]} |")
    row = f"| **accuracy** | {REPORT_ACCURACY:.2f} |"
    for name in names:
        r = results[name]
        row += f" | | {100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f} |"
    lines.append(row + " |")
    row = f"| training time (s) | {REPORT_SECONDS} (a GPU) |"
    for name in names:
        row += f" | | {results[name]['seconds_mean']:.0f} |"
    lines.append(row + " |")
    return ("\n".join(lines) + f"\n\nOurs: P, R, F1 in %, means over {n_seeds} seed(s); "
            "accuracy: mean ± standard deviation over the seeds. The report's own column is "
            "its Table 6 (one run).\n")


# -----------------------------------------------------------------------------
# Command line: the report's values are the defaults

def build_parser():
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", default="table6", choices=["table6", "labels", "all"],
                        type=renamed({"report": "table6"}),
                        help="table6: fine-tune and Table 6 (section 3.3); labels: accuracy "
                             "against the number of labels (beyond the report)")
    parser.add_argument("--recipe", default="table5", choices=["table5", "ours", "both"],
                        type=renamed({"report": "table5"}),
                        help="table5: Table 5 (or OUT_DIR/tuned_classifier.json), constant "
                             "lr; ours: one-cycle lr, a wider first MLP layer (No1 = 128), "
                             "no MLP weight decay (OURS in classify.py); both: the two side "
                             "by side")
    parser.add_argument("--epochs", type=positive_int, default=10,
                        help="epochs of fine-tuning on all training images (section 3.3)")
    parser.add_argument("--batch-size", type=positive_int, default=256,
                        help="section 2.1: n = 256")
    parser.add_argument("--seeds", type=positive_int, default=3,
                        help="repeat every run with seeds --seed, --seed + 1, ...; the report "
                             "made one run")
    parser.add_argument("--labels", type=label_counts, default="100,1000,10000,60000",
                        help="--part labels: how many of the 60,000 labelled training images "
                             "to train with, balanced over the classes")
    parser.add_argument("--checkpoint", default=None,
                        help="the pretrained autoencoder (default: OUT_DIR/ae.pt, from "
                             "`python ae.py`)")
    add_common_flags(parser)
    return parser


def label_counts(text):
    """"100,1000" -> [100, 1000]; each a positive multiple of 10 (balanced over 10 classes)."""
    try:
        counts = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be numbers separated by commas, got {text!r}")
    if not counts or any(n <= 0 or n % 10 for n in counts):
        raise argparse.ArgumentTypeError(f"each count must be a positive multiple of 10 "
                                         f"(the same number per class), got {text!r}")
    return sorted(set(counts))



if __name__ == "__main__":
    run(main)

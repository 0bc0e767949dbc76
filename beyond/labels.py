"""Beyond the report: what the pretrained encoder buys when labels are few (section 2.3).

With 100, 1,000, 10,000 and 60,000 labelled images, balanced over the classes, the classifier
of Table 3 is trained three ways (WAYS): outputs/ae.pt's encoder fine-tuned, that encoder
frozen (only the MLP trained), all from random weights; each is tested once on the test
images. Every run takes the steps of 10 epochs on all 60,000 images (2,350 batches of 256),
rounded up to whole epochs (2,352 with 1,000 images); a set smaller than a batch is one batch.

    python -m beyond.labels --recipe ours   # 3 seeds x 4 counts x 3 ways: 26 min, 2-core CPU
    python -m beyond.labels --quick         # 100 and 500 labels, 2 epochs' budget: 10 s

Measured (2-core CPU, our recipe): with 100 labels the frozen pretrained encoder reaches
72.3 % against 64.4 % from random weights; with all 60,000, fine-tuning 90.2 % against 89.7 %.
Writes to outputs/: labels.json, labels.md, fig_label_efficiency.png.
"""
import math
import time

import torch

from ae import load_ae
from classify import (classifier_from_ae, evaluate, fit, make_optimizers, mean_std, one_cycle,
                      recipe_label, resolve_recipe)
from common import CLASSES, load_test, load_train_val, stop_if_diverged
from plumbing.cli import (Parser, add_common_flags, checked, parse_args, path_text, pick_device,
                          positive_int, print_settings, run, seed_everything)
from plumbing.figures import pyplot, save_figure
from plumbing.files import out_dir, save_json, save_text
from plumbing.params import add_params_flag

WAYS = {"fine-tuned": "(a) pretrained encoder, fine-tuned",
        "frozen": "(b) pretrained encoder, frozen (MLP only)",
        "random": "(c) random initial weights"}
QUICK = {"subset": 2000, "epochs": 2, "seeds": 1, "labels": [100, 500]}


def balanced_subset(y, n, seed):
    """Sorted indices of n images, n / 10 of each class, the same for a seed on every machine."""
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


def train_one_way(ae_ckpt, recipe, way, x, y, steps, batch_size, seed):
    """The classifier of Table 3 trained one of the three WAYS on (x, y) for `steps`
    batches, rounded up to whole epochs; returns the model and the steps it took."""
    seed_everything(seed)
    mlp = recipe["mlp"]
    model = classifier_from_ae(ae_ckpt, mlp, pretrained=way != "random").to(x.device)
    batch_size = min(batch_size, len(x))
    steps_per_epoch = math.ceil(len(x) / batch_size)
    epochs = math.ceil(steps / steps_per_epoch)
    trained = model
    if way == "frozen":
        # a frozen encoder (dropout off) maps an image to one h: computed once, (N, d)
        model.encoder.requires_grad_(False).eval()
        with torch.no_grad():
            x = torch.cat([model.encoder(xb) for xb in x.split(10_000)])
        trained = model.mlp
    optimizers = make_optimizers(model, ae_ckpt["settings"], mlp)
    schedulers = (one_cycle(optimizers, epochs * steps_per_epoch)
                  if recipe["schedule"] == "one-cycle" else ())
    history = fit(trained, optimizers, x, y, epochs, batch_size, seed, schedulers, name=None)
    stop_if_diverged({f"the {way} run": history}, "lower the recipe's learning rates")
    return model, epochs * steps_per_epoch


def main(argv=None):
    args = parse_args(build_parser(), QUICK, argv)
    args.checkpoint = args.checkpoint or f"{args.out_dir}/ae.pt"
    print_settings(args)
    recipe = resolve_recipe(args, args.recipe)
    label = recipe_label(args.recipe, recipe["source"])
    device = pick_device(args.device)
    out = out_dir(args.out_dir)
    ae_ckpt, *_ = load_ae(args.checkpoint)
    t_start = time.perf_counter()
    (x_train, y_train), (x_val, y_val) = load_train_val(args.data_dir, device, args.subset)
    x, y = torch.cat([x_train, x_val]), torch.cat([y_train, y_val])   # all 60,000
    x_test, y_test = load_test(args.data_dir, device, args.subset)
    counts = [n for n in args.labels if n <= len(x)]
    if not counts:
        raise SystemExit(f"error: every --labels count exceeds the {len(x)} training images")
    if len(counts) < len(args.labels):
        print(f"labels: skipping counts above the {len(x)} training images")
    steps = args.epochs * math.ceil(len(x) / args.batch_size)   # the budget rule
    print(f"labels ({label}): every run takes {steps} "
          "optimisation steps, rounded up to whole epochs")

    table = {way: {} for way in WAYS}
    for n in counts:
        for way in WAYS:
            accuracies = []
            for seed in range(args.seed, args.seed + args.seeds):
                idx = balanced_subset(y, n, seed)
                model, taken = train_one_way(ae_ckpt, recipe, way, x[idx], y[idx], steps,
                                             args.batch_size, seed)
                accuracies.append(evaluate(model, x_test, y_test)["accuracy"])
                print(f"labels {n:6d}, {way:10s}, seed {seed}: test accuracy "
                      f"{100 * accuracies[-1]:.2f} % ({taken} steps)")
            mean, std = mean_std(accuracies)
            table[way][str(n)] = {"mean": mean, "std": std, "runs": accuracies}
    write_results(table, counts, steps, label, args, device, time.perf_counter() - t_start, out)


def write_results(table, counts, steps, label, args, device, seconds, out):
    lines = ["| labelled images | " + " | ".join(WAYS.values()) + " |",
             "|---:|" + "---:|" * len(WAYS)]
    for n in counts:
        lines.append(f"| {n:,} | " + " | ".join(
            f"{100 * table[w][str(n)]['mean']:.2f} ± {100 * table[w][str(n)]['std']:.2f}"
            for w in WAYS) + " |")
    markdown = ("\n".join(lines) + f"\n\nTest accuracy (%), mean ± standard deviation over "
                f"{args.seeds} seed(s); {label}; every run {steps} optimisation steps "
                f"rounded up to whole epochs (batches of min({args.batch_size}, n) images).\n")
    print("\n" + markdown)
    # results first, figure last: a run that fails on the way replaces no earlier figure
    save_json(out / "labels.json", {"settings": vars(args), "device": str(device),
                                    "recipe": args.recipe, "label": label, "steps": steps,
                                    "accuracy": table, "wall_seconds": seconds})
    save_text(out / "labels.md", "# Test accuracy against the number of labels\n\n" + markdown)
    plot_label_efficiency(table, counts, out / "fig_label_efficiency.png",
                          f"What pretraining buys: test accuracy against labels\n"
                          f"({label}, {steps} steps per run, mean ± sd of {args.seeds} seed(s))")
    print(f"done in {seconds:.0f}s on {device}; results in {out}/")


def plot_label_efficiency(table, counts, path, title):
    """Test accuracy against the number of labels, one line per way of training,
    mean over seeds with the standard deviation as error bars."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for way, label in WAYS.items():
        mean = [100 * table[way][str(n)]["mean"] for n in counts]
        std = [100 * table[way][str(n)]["std"] for n in counts]
        ax.errorbar(counts, mean, yerr=std, marker="o", capsize=4, label=label)
    ax.axhline(100 / len(CLASSES), color="gray", linestyle=":", label="chance (10 %)")
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(counts, [f"{n:,}" for n in counts])
    ax.set(xlabel="labelled training images (balanced over the 10 classes, log scale)",
           ylabel="test accuracy (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def build_parser():
    parser = Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default="table5", choices=["table5", "ours"],
                        help="the MLP's recipe, as in classify.py: Table 5's (or --params) "
                             "or ours (OURS in classify.py)")
    add_params_flag(parser, "classifier")
    parser.add_argument("--labels", type=label_counts, default="100,1000,10000,60000",
                        help="how many of the 60,000 labelled training images to train with, "
                             "balanced over the classes")
    parser.add_argument("--epochs", type=positive_int, default=10,
                        help="the budget: every run takes the steps of this many epochs on "
                             "all training images (section 3.3: 10)")
    parser.add_argument("--seeds", type=positive_int, default=3,
                        help="repeat every run with seeds --seed, --seed + 1, ...")
    parser.add_argument("--checkpoint", type=path_text, default=None,
                        help="the pretrained autoencoder (default: OUT_DIR/ae.pt, from "
                             "`python ae.py`)")
    add_common_flags(parser, batch_size=True)
    return parser


# "100,1000" -> [100, 1000]: positive multiples of 10, the same number of images per class
label_counts = checked(lambda text: sorted({int(t) for t in text.split(",")}),
                       lambda counts: all(n > 0 and n % 10 == 0 for n in counts),
                       "positive multiples of 10, separated by commas")


if __name__ == "__main__":
    run(main)

"""The convolutional variational autoencoder: sections 2.5 and 3.5 of the report.

The encoder is Table 1's conv stack and 288 -> 64 layer, then two heads of size d for the
mean mu and log-variance log sigma^2 of q(z|x); the decoder is Table 2's, unchanged; no
dropout. Trained on the negative ELBO with Table 7's values (d = 44, Adam, lr 0.0002,
weight decay 0.0018), or those of a file named by --params (from `python tune.py vae`).

    python vae.py            # 42 epochs + log p(x) on the test set with K = 100:
                             # 3 to 7 min on a 2-core CPU, longer when it is busy
    python vae.py --quick    # 2,000 images, 2 epochs, K = 10: 7 s (the figures are
                             # still grey squares: it only checks that everything runs)
    python vae.py --iw-images 1000   # log p(x) on the first 1,000 test images: faster
    python vae.py --beta 4   # a beta-VAE (Higgins et al. 2017): smoother, blurrier

Measured (2-core CPU, Table 7's values): test negative ELBO 250.2 nats per image,
importance-weighted -log p(x) <= 246.8 nats (K = 100).
Writes to outputs/: fig11_vae_loss.png, fig06_vae_samples.png, fig05b_vae_traversal.png,
fig_vae_reconstructions.png, vae.pt, vae.json; with --d 2 also fig_vae_manifold.png.
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import (CLASSES, CORNERS, Decoder, batches, bilinear, conv_stack, diverged,
                    first_of_classes, kaiming_init, load_test, load_train_val, make_optimizer,
                    stop_if_diverged)
from plumbing.checkpoints import save_checkpoint
from plumbing.cli import (Parser, add_common_flags, layer_width, non_negative_float,
                          non_negative_int, parse_args, pick_device, positive_float, positive_int,
                          print_settings, run, seed_everything)
from plumbing.figures import plot_curves, plot_grid, plot_latent_plane
from plumbing.files import out_dir, save_json
from plumbing.params import add_params_flag, resolve_params

TABLE_7 = {"d": 44, "lr": 0.0002, "weight_decay": 0.0018}  # the tuned VAE (Table 7); Adam
QUICK = {"subset": 2000, "epochs": 2, "iw_samples": 10}


# --- Model: the encoder of Table 1 with two heads, the decoder of Table 2 ----

def reparameterize(mu, logvar):
    """A sample of q(z|x) that gradients flow through to mu and logvar."""
    # z = mu + sigma * eps, eps ~ N(0, I), sigma = exp(log sigma^2 / 2)
    # (Kingma & Welling 2014, section 2.4). Section 2.5 of the report writes
    # z = Sigma eta + mu with the covariance Sigma; the factor is its square root, sigma.
    eps = torch.randn_like(mu)                # (B, d)
    return mu + torch.exp(0.5 * logvar) * eps


class VAE(nn.Module):
    """x (B, 1, 28, 28) -> (x_hat (B, 1, 28, 28), mu (B, d), logvar (B, d))."""

    def __init__(self, d):
        super().__init__()
        self.d = d
        self.encoder = nn.Sequential(conv_stack(), nn.Linear(288, 64), nn.ReLU())  # (B, 64)
        self.mu = nn.Linear(64, d)             # mean of q(z|x)
        self.logvar = nn.Linear(64, d)         # log sigma^2: any real number, sigma > 0
        self.decoder = Decoder(d, dropout=0.0)  # Table 2; no dropout in the VAE
        kaiming_init(self)

    def encode(self, x):
        h = self.encoder(x)                    # (B, 64)
        return self.mu(h), self.logvar(h)      # (B, d), (B, d)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)         # (B, d)
        return self.decoder(z), mu, logvar


# --- Loss: the negative ELBO (Kingma & Welling 2014), per image, in nats -----
#
#   -ELBO(x) = -E_q(z|x)[log p(x|z)] + beta * KL(q(z|x) || N(0, I))
#            =  reconstruction term   +  beta * KL term
#
# each term summed over pixels or latent dimensions, then averaged over the batch.

def gaussian_kl(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, I)) per image, summed over the d dimensions: (B,)."""
    # KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)  (Kingma & Welling 2014, app. B)
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


def loss_terms(model, x):
    """(reconstruction, KL): each summed over pixels or latent dimensions and averaged
    over the images of x, in nats per image. The loss is recon + beta * kl."""
    mu, logvar = model.encode(x)
    logits = model.decoder(reparameterize(mu, logvar), logits=True)   # (B, 1, 28, 28)
    # -log p(x|z) for a Bernoulli per pixel of mean x_hat: binary cross-entropy summed over
    # the 784 pixels, so that recon + kl is a negative ELBO in nats (docs/results.md, "The
    # VAE's likelihood"); from the logits, so that a diverging run gives NaN, not an error.
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    kl = gaussian_kl(mu, logvar).mean()
    return recon, kl


# --- Training: one epoch, the validation loss, the for-epoch loop ------------

def train_epoch(model, optimizer, x, batch_size, generator, beta=1.0):
    """One pass over x in shuffled batches, on the loss recon + beta * kl; returns the mean
    {"recon", "kl"} per image over the epoch (a running mean: the weights change as it goes)."""
    model.train()
    totals = torch.zeros(2, device=x.device)
    for idx in batches(len(x), batch_size, x.device, generator=generator):
        recon, kl = loss_terms(model, x[idx])  # x[idx]: (B, 1, 28, 28)
        loss = recon + beta * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        totals += torch.stack([recon.detach(), kl.detach()]) * len(idx)  # no sync per batch
    recon, kl = (totals / len(x)).tolist()
    return {"recon": recon, "kl": kl}


@torch.no_grad()
def evaluate(model, x, batch_size=1024):
    """The mean {"recon", "kl"} per image over x, one sample z per image; their sum is the
    negative ELBO in nats (whatever beta weighed the KL term in training)."""
    model.eval()
    totals = torch.zeros(2, device=x.device)
    for xb in x.split(batch_size):
        recon, kl = loss_terms(model, xb)
        totals += torch.stack([recon, kl]) * len(xb)
    recon, kl = (totals / len(x)).tolist()
    return {"recon": recon, "kl": kl}


def fit(model, optimizer, x_train, x_val, epochs, batch_size, seed, beta=1.0, on_epoch=None,
        name="VAE"):
    """Train for `epochs`, validating after each; returns the history. After every epoch,
    on_epoch(epoch, validation) if given (tune.py reports to Optuna there). A loss that is not
    a finite number stops it: history["diverged"] = that epoch, else None."""
    generator = torch.Generator().manual_seed(seed)  # the batch order
    history = {"train_recon": [], "train_kl": [], "val_recon": [], "val_kl": [],
               "seconds": [], "diverged": None}
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        train = train_epoch(model, optimizer, x_train, batch_size, generator, beta=beta)
        val = evaluate(model, x_val)
        seconds = time.perf_counter() - t0
        if diverged(*train.values(), *val.values()):
            print(f"{name} diverged at epoch {epoch} (loss {train['recon'] + train['kl']})")
            history["diverged"] = epoch
            break
        for key, value in (("train_recon", train["recon"]), ("train_kl", train["kl"]),
                           ("val_recon", val["recon"]), ("val_kl", val["kl"]),
                           ("seconds", seconds)):
            history[key].append(value)
        # printed: -ELBO = recon + kl in nats, whatever beta weighs the KL term in training
        print(f"{name} epoch {epoch:2d}/{epochs}: train {train['recon'] + train['kl']:.2f} "
              f"(recon {train['recon']:.2f} + kl {train['kl']:.2f}), val "
              f"{val['recon'] + val['kl']:.2f} (recon {val['recon']:.2f} + kl {val['kl']:.2f}) "
              f"nats/image, {seconds:.1f}s", flush=True)
        if on_epoch is not None:
            on_epoch(epoch, val)
    return history


# --- Beyond the report: log p(x) itself, by importance sampling --------------

@torch.no_grad()
def iw_log_px(model, x, k):
    """Importance-weighted estimate of log p(x) per image, (B,), with K samples each:

        log p(x) >= log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x),   z_k ~ q(z|x)

    (Burda, Grosse & Salakhutdinov 2016). Its expectation is a lower bound on log p(x) for
    every K (one estimate is a random number around it), equals the ELBO at K = 1 and
    tightens towards log p(x) as K grows."""
    model.eval()
    mu, logvar = model.encode(x)                                  # (B, d)
    eps = torch.randn(k, *mu.shape, device=x.device)              # (K, B, d)
    z = mu + torch.exp(0.5 * logvar) * eps                        # (K, B, d)
    logits = model.decoder(z.flatten(0, 1), logits=True).view(k, *x.shape)  # (K, B, 1, 28, 28)
    log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits),
                                                   reduction="none").sum((2, 3, 4))  # (K, B)
    # log N(z; 0, I) and log N(z; mu, sigma^2), summed over d; (z - mu) / sigma = eps
    log_2pi = math.log(2 * math.pi)
    log_pz = -0.5 * (z.pow(2) + log_2pi).sum(2)                   # (K, B)
    log_qz = -0.5 * (eps.pow(2) + logvar + log_2pi).sum(2)        # (K, B)
    log_w = log_px_z + log_pz - log_qz                            # (K, B)
    return torch.logsumexp(log_w, 0) - math.log(k)                # (B,)


def test_results(model, x_test, k, n_images, chunk=10_000):
    """The test set, once: the negative ELBO (one z per image), and the importance-weighted
    log p(x) with k samples on the first n_images images (0: all), in batches of about
    `chunk` decodes with a progress line every tenth of the way; printed and returned."""
    test = evaluate(model, x_test)
    x_iw = x_test[:n_images] if n_images else x_test
    t0, batch = time.perf_counter(), max(1, chunk // k)
    log_px, n_batches = [], math.ceil(len(x_iw) / batch)
    for i, xb in enumerate(x_iw.split(batch), 1):
        log_px.append(iw_log_px(model, xb, k))
        if n_batches >= 10 and i % (n_batches // 10) == 0:
            print(f"  log p(x), K = {k}: {i * 100 // n_batches}% of {len(x_iw)} images", flush=True)
    test = {**test, "neg_elbo": test["recon"] + test["kl"], "images": len(x_test),
            "iw_log_px": torch.cat(log_px).mean().item(), "iw_samples": k,
            "iw_images": len(x_iw), "iw_seconds": time.perf_counter() - t0}
    print(f"test: negative ELBO {test['neg_elbo']:.2f} nats/image (recon {test['recon']:.2f} "
          f"+ kl {test['kl']:.2f}); importance-weighted -log p(x) <= {-test['iw_log_px']:.2f} "
          f"nats/image (K = {k}, {test['iw_images']} images, {test['iw_seconds']:.0f}s)")
    return test


# --- main(): flags, data, training, test, results, figures -------------------

def main(argv=None):
    args = parse_args(build_parser(), QUICK, argv)
    print_settings(args)
    params, source = resolve_params(args, TABLE_7, "vae")
    print_params(params, source, args.beta)
    device = pick_device(args.device)
    out = out_dir(args.out_dir)
    t_start = time.perf_counter()
    (x_train, _), (x_val, y_val), (x_test, y_test) = load_data(args.data_dir, device, args.subset)

    seed_everything(args.seed)
    model = VAE(params["d"]).to(device)
    optimizer = make_optimizer("Adam", model.parameters(), params["lr"], params["weight_decay"])
    history = fit(model, optimizer, x_train, x_val, args.epochs, args.batch_size, args.seed,
                  beta=args.beta)
    stop_if_diverged({"training": history})  # before anything is written
    test = test_results(model, x_test, args.iw_samples, args.iw_images)
    results = {"params": params, "source": source, "device": str(device), "history": history}
    save_model_and_results(model, results, test, args, time.perf_counter() - t_start, out)
    plot_figures(model, history, params, args, x_val, y_val, x_test, y_test, out)  # last
    print(f"done in {time.perf_counter() - t_start:.0f}s on {device}; results in {out}/")


# --- Data, values and results ------------------------------------------------

def print_params(params, source, beta):
    print(f"VAE: {', '.join(f'{k} = {v}' for k, v in params.items())}, Adam, beta = {beta} "
          f"(from {'Table 7' if source == 'report' else source})")


def load_data(data_dir, device, subset):
    """(x, y) of the training, validation and test images, on the device."""
    (x_train, y_train), (x_val, y_val) = load_train_val(data_dir, device, subset)
    x_test, y_test = load_test(data_dir, device, subset)
    print(f"data: {len(x_train)} training / {len(x_val)} validation / {len(x_test)} test "
          f"images on {device}")
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def save_model_and_results(model, results, test, args, seconds, out):
    """vae.pt first, then vae.json: the results never describe a checkpoint not written."""
    settings = {**results["params"], "beta": args.beta, "epochs": args.epochs,
                "quick": args.quick, "seed": args.seed}
    checkpoint = save_checkpoint(out / "vae.pt", settings, vae=model.state_dict())
    save_json(out / "vae.json", {"settings": vars(args), **results, "test": test,
                                 "wall_seconds": seconds, "checkpoint": checkpoint})


def plot_figures(model, history, params, args, x_val, y_val, x_test, y_test, out):
    """Figures 11, 6 and 5b, and the reconstructions."""
    d = params["d"]
    # Figure 11: each term, (training, validation) per epoch, and their sum, the negative ELBO
    recon, kl = [(history[f"train_{k}"], history[f"val_{k}"]) for k in ("recon", "kl")]
    elbo = [[r + k for r, k in zip(*terms)] for terms in zip(recon, kl)]
    plot_curves({"negative ELBO = reconstruction + KL": {"": elbo},
                 "reconstruction: -log p(x|z)": {"": recon}, "KL(q(z|x) || N(0, I))": {"": kl}},
                out / "fig11_vae_loss.png",
                f"Figure 11: VAE loss per epoch (d = {d}, lr = {params['lr']:.3g}, "
                f"weight decay alpha = {params['weight_decay']:.3g}, beta = {args.beta})",
                "nats per image")
    plot_samples(model, d, out / "fig06_vae_samples.png", args.seed)
    plot_traversal(model, x_test, y_test, out / "fig05b_vae_traversal.png")
    plot_reconstructions(model, x_val, y_val, out / "fig_vae_reconstructions.png")
    if d == 2:  # the whole latent space fits in one picture
        plot_manifold(model, x_test, y_test, out / "fig_vae_manifold.png")


@torch.no_grad()
def decode(model, z):
    """Decoded images (the Bernoulli means x_hat) of latent points z (..., d), on the CPU."""
    model.eval()
    return model.decoder(z.flatten(0, -2)).view(*z.shape[:-1], 28, 28).cpu()


@torch.no_grad()
def plot_traversal(model, x_test, y_test, path, n=10):
    """Figure 5b: the latent means of four test images at the corners of an n x n grid,
    bilinear interpolation between them, every cell decoded."""
    idx = first_of_classes(y_test, CORNERS)
    mu, _ = model.eval().encode(x_test[idx])                  # (4, d): TL, TR, BL, BR
    z = bilinear(mu, n)                                       # (n, n, d)
    names = [CLASSES[i] for i in y_test[idx].tolist()]
    plot_grid(decode(model, z), path,
              "Figure 5b: the VAE latent space between the means of four test images, "
              f"{names[0]} (top left), {names[1]} (top right), {names[2]} (bottom left) "
              f"and {names[3]} (bottom right)", cell=0.8)


def plot_samples(model, d, path, seed, n=10):
    """Figure 6: decoded z ~ N(0, I), the prior the KL term pulls q(z|x) towards."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, n, d, generator=generator).to(next(model.parameters()).device)
    plot_grid(decode(model, z), path,
              f"Figure 6: {n * n} new images, decoded from z ~ N(0, I) (d = {d})", cell=0.8)


@torch.no_grad()
def plot_reconstructions(model, x_val, y_val, path, per_class=2):
    """Validation images of every class (columns) above their reconstructions from mu."""
    rows, labels = [], []
    idx = first_of_classes(y_val, CLASSES * per_class)         # a class twice: its 2nd image
    for j in range(per_class):
        x = x_val[idx[j * len(CLASSES):(j + 1) * len(CLASSES)]]  # (10, 1, 28, 28)
        mu, _ = model.eval().encode(x)
        rows += [x[:, 0].cpu(), decode(model, mu)]
        labels += ["original", "reconstructed\nfrom mu"]
    plot_grid(torch.stack(rows), path,
              "VAE: validation images and their reconstructions (decoder of the mean mu)",
              row_labels=labels, col_labels=CLASSES)


@torch.no_grad()
def plot_manifold(model, x_test, y_test, path, n=20):
    """At d = 2: the means mu of the test images, coloured by class, beside the decoder over an
    n x n grid of z at N(0, I)'s quantiles (Kingma & Welling 2014, Figure 4: "linearly spaced
    coordinates on the unit square were transformed through the inverse CDF of the Gaussian"),
    here the levels (i + 0.5) / n, each cell 1/n^2 of the prior's mass."""
    model.eval()
    mu = torch.cat([model.encode(xb)[0] for xb in x_test.split(1000)])    # (N, 2)
    lo, hi = 0.5 / n, 1 - 0.5 / n
    levels = bilinear(torch.tensor([[lo, hi], [hi, hi], [lo, lo], [hi, lo]]), n)  # (n, n, 2)
    z = torch.distributions.Normal(0.0, 1.0).icdf(levels)                # (n, n, 2)
    plot_latent_plane(mu, y_test, CLASSES, z, decode(model, z.to(mu.device)), path,
                      "The VAE's latent plane (d = 2): where the test images lie, and what the "
                      "decoder draws there (as Kingma & Welling 2014, Figure 4)",
                      [f"means mu of the {len(x_test):,} test images",
                       f"decoded z on a {n} x {n} grid of N(0, I)'s quantiles "
                       f"{lo:.3f} ... {hi:.3f}"])


# --- Command line: the report's values are the defaults ----------------------

def build_parser():
    parser = Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=positive_int, default=42,
                        help="training epochs; the report does not state them for the VAE, "
                             "42 as for the AE (section 2.1)")
    parser.add_argument("--beta", type=non_negative_float, default=1.0,
                        help="weight of the KL term; 1 = the ELBO of section 2.5")
    add_params_flag(parser, "vae")
    parser.add_argument("--d", type=layer_width, default=None,
                        help="latent dimension, 1 to 1024 (default: Table 7's 44)")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="Adam's learning rate (default: Table 7's 0.0002)")
    parser.add_argument("--weight-decay", type=non_negative_float, default=None,
                        help="weight decay alpha (default: Table 7's 0.0018)")
    parser.add_argument("--iw-samples", type=positive_int, default=100,
                        help="K, samples per test image of the importance-weighted log p(x) "
                             "(Burda et al. 2016)")
    parser.add_argument("--iw-images", type=non_negative_int, default=0,
                        help="estimate log p(x) on the first N test images only (0 = all)")
    add_common_flags(parser, batch_size=True)
    return parser


if __name__ == "__main__":
    run(main)

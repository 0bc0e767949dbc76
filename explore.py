"""The latent spaces of the AE and the VAE explored: sections 2.4 and 3.4 of the report.

The 10,000 test images encoded by the AE of outputs/ae.pt (`python ae.py`) and, when
outputs/vae.pt exists (`python vae.py`), by the VAE's means; t-SNE (Figure 3, exact, in PyTorch)
and PCA (Figure 9) to 2-D; random codes decoded (Figure 4): uniform in the min-max box of the
AE's codes of the training images (the notebook's sampler) and from a Gaussian fitted to them,
the VAE's from N(0, I); a walk and a grid between test images (Figure 5a). The claims as numbers:
"classes separate", a leave-one-out 10-NN accuracy; "the VAE's space is smooth, the AE's
abrupt", a walk's largest step as a share of it. The third claim: python -m beyond.samples.

    python explore.py           # 2-core CPU, t-SNE of 3,000 points: about 45 s
    python explore.py --tsne-points 0 --device cuda   # all 10,000 points on a GPU
    python explore.py --quick   # 500 test images: about 5 s

Measured (2-core CPU, the report's tables): 10-NN accuracy on all 10,000 test images 0.842 in
the AE's latent space, 0.815 in the VAE's, 0.814 on raw pixels; smoothness 0.137 (AE) against
0.155 (VAE), 0.100 being perfectly even. Writes to outputs/: fig03_tsne.png, fig09_pca.png,
fig04_ae_samples.png, fig05a_ae_interpolation.png, explore.json.
"""
import math
import textwrap
import time
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from ae import load_ae
from common import (CLASSES, CORNERS, batched, bilinear, first_of_classes, load_test,
                    load_train_val, pca)
from plumbing.checkpoints import command_for, load_checkpoint, load_weights
from plumbing.cli import (Parser, add_common_flags, non_negative_int, parse_args, pick_device,
                          positive_float, positive_int, print_settings, run, seed_everything)
from plumbing.figures import plot_grid, plot_interpolations, plot_scatter_panels
from plumbing.files import out_dir, save_json
from vae import VAE

WALK = ("Ankle boot", "Bag")  # Figure 5a: the 1-D walk
FIGURE_4_ROWS = {"ae_box": "AE, uniform in the min-max box (the notebook's)",
                 "ae_gaussian": "AE, one Gaussian fitted to the codes",
                 "vae_prior": "VAE, z ~ N(0, I)"}  # keys as in beyond/samples.py's table
QUICK = {"subset": 2000, "tsne_points": 0, "tsne_iters": 500, "pairs": 50}
TSNE_KNN = "t-SNE 2-D (its subsample)"  # the one 10-NN accuracy not on all the test images


class LatentModel(NamedTuple):
    """A model whose latent space is explored (the AE, the VAE), read back by load_models."""
    encode: Callable  # x (B, 1, 28, 28) -> z (B, d); the VAE's: the mean mu of q(z|x)
    decode: Callable  # z (B, d) -> x_hat (B, 1, 28, 28)
    d: int            # the latent dimension


# --- t-SNE (van der Maaten and Hinton, 2008), exact, in PyTorch --------------

def conditional_p(D2, perplexity, steps=100, tol=1e-5):
    """p_j|i = exp(-beta_i D2_ij) / sum_{k != i} exp(-beta_i D2_ik), one beta_i = 1/(2 sigma_i^2)
    per point, found by binary search so that the entropy of row i is log(perplexity) nats.
    D2: (n, n) squared distances. Returns P (n, n), rows summing to 1, and the entropies (n,)."""
    n = len(D2)
    target = math.log(perplexity)
    # Shift each row so that its nearest neighbour is at 0: P does not change, and exp()
    # cannot underflow to an all-zero row. The diagonal (a point and itself) is left out.
    off = D2.masked_fill(torch.eye(n, dtype=torch.bool, device=D2.device), math.inf)
    D2 = (off - off.min(1, keepdim=True).values).fill_diagonal_(0)
    beta = 1 / D2.mean(1, keepdim=True)                           # (n, 1), a first guess
    lo, hi = torch.zeros_like(beta), torch.full_like(beta, math.inf)
    for _ in range(steps):
        # clamp: exp() below -87 gives denormal numbers, up to 40 x slower on a CPU, and
        # exp(-80) ~ 2e-35 is as good as 0 here
        E = (-beta * D2).clamp_(min=-80).exp_().fill_diagonal_(0)  # (n, n), unnormalised p_j|i
        Z = E.sum(1, keepdim=True)
        # H_i = -sum_j p_j|i log p_j|i = log Z_i + beta_i sum_j p_j|i D2_ij
        H = Z.log() + beta * (E * D2).sum(1, keepdim=True) / Z
        if (H - target).abs().max() < tol:
            break
        too_flat = H > target                      # sigma_i too large: raise beta_i
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.where(hi.isinf(), 2 * beta, (lo + hi) / 2)
    return E / Z, H.squeeze(1)


def affinities(x, perplexity):
    """t-SNE's P (n, n) for the rows of x (n, D): the conditional p_j|i of the squared
    distances, then p_ij = (p_j|i + p_i|j) / 2n, symmetric and summing to 1 (section 3.1 of
    the paper), floored at 1e-12 so that log P is finite."""
    n = len(x)
    P_cond, _ = conditional_p(torch.cdist(x, x).square(), perplexity)   # (n, n)
    return ((P_cond + P_cond.T) / (2 * n)).clamp_min(1e-12)


def kl_divergence(P, Y):
    """KL(P || Q) = sum_ij p_ij log(p_ij / q_ij), the cost t-SNE minimises, in nats."""
    kernel = torch.cdist(Y, Y).square_().add_(1).reciprocal_().fill_diagonal_(0)  # Student t
    Q = (kernel / kernel.sum()).clamp_min(1e-12)          # q_ij, from (1 + |y_i - y_j|^2)^-1
    return (P * (P / Q).log()).sum().item()


def kl_gradient_reference(P, Y):
    """Equation 5 of van der Maaten and Hinton (2008), as it reads, for small n:
        dC/dy_i = 4 sum_j (p_ij - q_ij) (y_i - y_j) (1 + |y_i - y_j|^2)^-1"""
    diff = Y[:, None, :] - Y[None, :, :]                          # (n, n, 2): y_i - y_j
    kernel = (1 + diff.square().sum(-1)).reciprocal().fill_diagonal_(0)   # (n, n)
    Q = kernel / kernel.sum()                                     # q_ij
    return 4 * ((P - Q) * kernel)[:, :, None].mul(diff).sum(1)    # (n, 2)


def kl_gradient(P, Y, kernel, weights):
    """The same gradient dC/dY (n, 2), fast: no (n, n, 2) tensor, and two (n, n) buffers
    reused in place, `kernel` (1 + |y_i - y_j|^2)^-1 and `weights` (p_ij - q_ij) kernel_ij."""
    # kernel_ij from |y_i - y_j|^2 = |y_i|^2 + |y_j|^2 - 2 y_i.y_j, in place
    sq = Y.square().sum(1)                                        # (n,)
    torch.addmm(1 + sq[:, None], Y, Y.T, alpha=-2, out=kernel).add_(sq)
    kernel.reciprocal_().fill_diagonal_(0)                        # (n, n)
    # with W_ij = (p_ij - q_ij) kernel_ij, equation 5 is dC/dy_i = 4 (y_i sum_j W_ij - (W Y)_i)
    torch.div(kernel, kernel.sum(), out=weights)                  # q_ij
    torch.sub(P, weights, out=weights).mul_(kernel)               # W_ij, (n, n)
    return 4 * (weights.sum(1, keepdim=True) * Y - weights @ Y)


def tsne(x, perplexity=30.0, iters=1000, exaggeration=12.0, exaggeration_iters=250,
         log_every=100, name="t-SNE"):
    """Embed the rows of x (n, D) in two dimensions; returns (Y (n, 2), KL divergence).
    Optimiser settings as in scikit-learn's TSNE (init="pca", learning_rate="auto"), so that
    the two can be compared: early exaggeration 12 for 250 iterations with momentum 0.5,
    then momentum 0.8; per-coordinate gains; learning rate max(n / 12 / 4, 50)."""
    n = len(x)
    P = affinities(x, perplexity)                                 # (n, n)
    P_early = exaggeration * P      # early exaggeration pulls clusters together at first
    # start from the first two principal components, scaled to a standard deviation of 1e-4
    mean, components, _ = pca(x, 2)
    Y = (x - mean) @ components.T                                 # (n, 2)
    Y = Y / Y[:, 0].std() * 1e-4
    lr = max(n / exaggeration / 4, 50.0)
    update, gains = torch.zeros_like(Y), torch.ones_like(Y)
    # kl_gradient's buffers, reused: fresh n x n tensors each step cost as much as the maths
    kernel, weights = torch.empty_like(P), torch.empty_like(P)
    t0 = time.perf_counter()
    for it in range(1, iters + 1):
        early = it <= exaggeration_iters
        grad = kl_gradient(P_early if early else P, Y, kernel, weights)   # (n, 2)
        # gains (Jacobs, 1988): a coordinate that keeps moving the same way takes larger steps
        same_way = update * grad < 0
        gains = torch.where(same_way, gains + 0.2, gains * 0.8).clamp_min(0.01)
        update = (0.5 if early else 0.8) * update - lr * gains * grad
        Y = Y + update
        if log_every and (it % log_every == 0 or it == iters):
            print(f"{name} iteration {it:4d}/{iters}: KL {kl_divergence(P, Y):.4f}, "
                  f"{time.perf_counter() - t0:.1f}s")
    return Y, kl_divergence(P, Y)


# --- The report's claims as numbers: class separation, smoothness ------------

def knn_accuracy(z, y, k=10, chunk=1000):
    """Leave-one-out k-nearest-neighbour class accuracy: each point's class is predicted by
    a majority vote of its k nearest other points (a tie goes to the lower class number)."""
    correct = 0
    for start in range(0, len(z), chunk):
        d = torch.cdist(z[start:start + chunk], z)                # (chunk, n)
        rows = torch.arange(len(d), device=z.device)
        d[rows, start + rows] = math.inf                          # leave the point itself out
        neighbours = d.topk(k, largest=False).indices             # (chunk, k)
        votes = F.one_hot(y[neighbours], len(CLASSES)).sum(1)     # (chunk, 10)
        correct += (votes.argmax(1) == y[start:start + chunk]).sum().item()
    return correct / len(z)


def evenness(path):
    """The largest single step of a path divided by its length: path (..., steps + 1, D) ->
    (...,). Equal to 1/steps when every step is the same size, 1 when one step is all."""
    step = (path[..., 1:, :] - path[..., :-1, :]).norm(dim=-1)     # (..., steps)
    return step.max(-1).values / step.sum(-1)


@torch.no_grad()
def decode_line(decode, z0, z1, steps):
    """Decode steps + 1 equally spaced codes from z0 to z1 (P, d): (P, steps + 1, 1, 28, 28)."""
    t = torch.linspace(0, 1, steps + 1, device=z0.device)[None, :, None]   # (1, steps+1, 1)
    z = z0[:, None] + t * (z1 - z0)[:, None]                                # (P, steps+1, d)
    return decode(z.flatten(0, 1)).unflatten(0, z.shape[:2])


def smoothness(decode, z, pairs, steps, generator):
    """Evenness of the decoded walk between `pairs` random pairs of distinct codes: (pairs,)."""
    i = torch.randint(len(z), (pairs,), generator=generator)
    j = (i + torch.randint(1, len(z), (pairs,), generator=generator)) % len(z)   # j != i
    images = decode_line(decode, z[i], z[j], steps)               # (pairs, steps+1, 1, 28, 28)
    return evenness(images.flatten(2)).cpu()


# --- Random codes (Figure 4) and interpolation (Figure 5a) -------------------

def sample_uniform_box(z, n, generator):
    """The report's notebook: each coordinate uniform between its min and max over z, the
    codes of the training images (never the test images the samples are compared with)."""
    lo, hi = z.min(0).values, z.max(0).values
    return lo + (hi - lo) * torch.rand(n, z.shape[1], generator=generator).to(z.device)


def sample_gaussian(z, n, generator):
    """From N(mean, covariance) of the codes z of the training images (never the test images):
    cov = V diag(lam) V^T, so z = mean + V sqrt(lam) eps."""
    z64 = z.double().cpu()
    mean = z64.mean(0)
    lam, V = torch.linalg.eigh(torch.cov(z64.T))
    eps = torch.randn(n, z.shape[1], generator=generator, dtype=torch.float64)
    return (mean + (eps * lam.clamp_min(0).sqrt()) @ V.T).float().to(z.device)


def decoded_samples(models, z_train, n, generator):
    """n decoded random codes for each row of Figure 4, {key of FIGURE_4_ROWS: (n, 1, 28, 28)}:
    the AE's from samplers fitted to z_train, its codes of the training images (never a test
    image); the VAE's from its prior N(0, I)."""
    drawn = {"ae_box": sample_uniform_box(z_train, n, generator),
             "ae_gaussian": sample_gaussian(z_train, n, generator)}
    if "VAE" in models:
        drawn["vae_prior"] = torch.randn(n, models["VAE"].d, generator=generator)
    decode = {key: models["VAE" if key == "vae_prior" else "AE"].decode for key in drawn}
    return {key: batched(decode[key], c.to(z_train.device)) for key, c in drawn.items()}


@torch.no_grad()
def bilinear_grid(decode, corners, size=10):
    """The decoded grid between four codes (common.bilinear): (size, size, 1, 28, 28)."""
    return decode(bilinear(corners, size).flatten(0, 1)).unflatten(0, (size, size))


# --- main(): flags, data, training, results ----------------------------------

def main(argv=None):
    args = parse_args(build_parser(), QUICK, argv)
    print_settings(args)
    device = pick_device(args.device)
    out = out_dir(args.out_dir)
    seed_everything(args.seed)
    t_start = time.perf_counter()
    models = load_models(out, device)           # {"AE": LatentModel}, and "VAE"
    x, y = load_test(args.data_dir, device, args.subset)
    sub = tsne_subsample(len(x), args, device)  # the points t-SNE embeds (Figure 3)
    (x_train, _), _ = load_train_val(args.data_dir, device, args.subset)
    print(f"data: {len(x)} test images, {len(x_train)} training images on {device}")
    codes = {name: batched(m.encode, x) for name, m in models.items()}  # (n, d)
    results, embeddings = measure_all(models, codes, x, y, sub, args, device)
    results["wall_seconds"] = time.perf_counter() - t_start
    save_json(out / "explore.json", results)
    z_train = batched(models["AE"].encode, x_train)  # Figure 4's AE samplers are fitted to it
    plot_figures(models, codes, z_train, embeddings, x, y, sub, args, out)  # the figures last
    print_tables(results, args)
    print(f"done in {results['wall_seconds']:.0f}s on {device}; results in {out}/")


def measure_all(models, codes, x, y, sub, args, device):
    """Every model measured beside the raw pixels: (results, {name: what Figures 3 and 9 draw})."""
    results = {"settings": vars(args), "device": str(device), "test_images": len(x),
               "tsne_points": len(sub),
               "knn": {"raw pixels": knn_accuracy(x.flatten(1), y, args.k)}}
    embeddings = {}
    for name, z in codes.items():
        numbers, embeddings[name] = measure(name, z, models[name].decode, y, sub, args)
        for key, value in numbers.items():
            results.setdefault(key, {})[name] = value
    return results, embeddings


def measure(name, z, decode, y, sub, args):
    """One model's test codes z (n, d) measured: 10-NN accuracies (claim 1) on all n, t-SNE's
    on the points it embeds, smoothness (claim 2), PCA and t-SNE. Returns (numbers, what
    Figures 9 and 3 draw: pca (n, 2), tsne (len(sub), 2))."""
    mean, components, ratio = pca(z, 2)                                 # Figure 9, all codes
    z_pca = (z - mean) @ components.T                                   # (n, 2)
    t0 = time.perf_counter()                                            # Figure 3, subsample
    z_tsne, kl = tsne(z[sub], args.perplexity, args.tsne_iters, name=f"{name} t-SNE")
    seconds = time.perf_counter() - t0
    g = torch.Generator().manual_seed(args.seed)          # claim 2: the same pairs for all
    even = smoothness(decode, z, args.pairs, args.steps, g)
    numbers = {"knn": {"latent": knn_accuracy(z, y, args.k),
                       "PCA 2-D": knn_accuracy(z_pca, y, args.k),
                       TSNE_KNN: knn_accuracy(z_tsne, y[sub], args.k)},
               "smoothness": {"mean": even.mean().item(), "std": even.std().item(),
                              "median": even.median().item()},
               "models": {"d": z.shape[1], "pca_explained_variance_ratio": ratio.tolist(),
                          "tsne_kl": kl, "tsne_seconds": seconds}}
    return numbers, {"pca": z_pca, "ratio": ratio.tolist(), "tsne": z_tsne, "kl": kl}


# --- Models and the t-SNE subsample ------------------------------------------

def load_models(out, device):
    """{"AE": LatentModel} of OUT/ae.pt and, when OUT/vae.pt exists, "VAE" beside it; on
    `device`, in eval mode (dropout off). The VAE encodes an image by the mean mu of q(z|x)."""
    ae_ckpt, encoder, decoder = load_ae(out / "ae.pt")
    path, made_by = out / "vae.pt", "python vae.py"
    vae_ckpt = load_checkpoint(path, made_by, key="vae") if path.exists() else None
    dims = {"AE": ae_ckpt["settings"]["d"],
            **({"VAE": vae_ckpt["settings"].get("d")} if vae_ckpt else {})}
    if not all(isinstance(d, int) and d >= 2 for d in dims.values()):  # Figures 3, 9: 2-D
        raise SystemExit(f"error: explore.py maps codes of d >= 2, and these have d = {dims}; "
                         "train with --d 2 or more")
    models = {"AE": LatentModel(encoder.to(device).eval(), decoder.to(device).eval(), dims["AE"])}
    if vae_ckpt is None:
        print(f"note: {path} not found, so the VAE parts are skipped "
              f"(run `{command_for(made_by, path)}` to add them)")
        return models
    vae = load_weights(VAE(dims["VAE"]), vae_ckpt, "vae", path, made_by).to(device).eval()
    models["VAE"] = LatentModel(lambda x: vae.encode(x)[0], vae.decoder, dims["VAE"])
    return models


def tsne_subsample(n, args, device):
    """Sorted indices of the test images t-SNE embeds: all n, or a random subsample."""
    n_tsne, need = min(args.tsne_points, n) or n, int(max(args.k, args.perplexity)) + 1
    if n_tsne < need:  # too few points for the neighbours: all test images, or a subsample
        more = f"--subset {4 * need} (N/4 test images)" if n_tsne == n else "--tsne-points"
        raise SystemExit(f"error: t-SNE of {n_tsne} images needs more points than the perplexity "
                         f"({args.perplexity:g}) and k ({args.k}); raise {more} or lower those")
    if n_tsne < n:
        print(f"t-SNE on {n_tsne} of {n} test images, a random subsample "
              "(exact t-SNE is O(n^2) per iteration; --tsne-points 0 embeds all)")
    sub = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed))[:n_tsne]
    return sub.sort().values.to(device)


# --- Results and figures -----------------------------------------------------

def print_tables(results, args):
    """The claims as numbers, a column per model: 10-NN accuracies, then the smoothness."""
    names = list(results["smoothness"])
    print(f"\n{args.k}-NN class accuracy, leave-one-out on all {results['test_images']} test "
          f"images; t-SNE's on the {results['tsne_points']} it embeds"
          f"\n{'representation':26s}" + "".join(f"{m:>8s}" for m in names))
    print(f"{'raw pixels (784-D)':26s}" + f"{results['knn']['raw pixels']:8.3f}" * len(names))
    for rep in ("latent", "PCA 2-D", TSNE_KNN):
        print(f"{rep:26s}" + "".join(f"{results['knn'][m][rep]:8.3f}" for m in names))
    print(f"\nsmoothness over {args.pairs} random pairs: largest step / path length of the "
          f"decoded walk in {args.steps} steps ({1 / args.steps:.3f} = perfectly even, 1 = one "
          f"jump)\n{'model':6s} {'mean':>7s} {'std':>7s} {'median':>7s}")
    for m, s in results["smoothness"].items():
        print(f"{m:6s} {s['mean']:7.3f} {s['std']:7.3f} {s['median']:7.3f}")


def plot_figures(models, codes, z_train, embeddings, x, y, sub, args, out):
    """Figures 3 and 9 (the embeddings), 4 (random codes decoded) and 5a (interpolation)."""
    n, n_tsne = len(x), len(sub)
    d = {name: m.d for name, m in models.items()}
    which = (f"all {n:,} test images" if n_tsne == n else f"{n_tsne:,} of {n:,} test images, a "
             "random subsample:\nexact t-SNE costs O(n²) per iteration (--tsne-points 0 for all)")
    plot_scatter_panels([e["tsne"] for e in embeddings.values()], y[sub], CLASSES,
                        out / "fig03_tsne.png", "Figure 3: t-SNE of the latent codes "
                        f"(perplexity {args.perplexity:g})\n{which}",
                        [("t-SNE 1", "t-SNE 2")] * len(codes),
                        [f"{m} (d = {d[m]}), KL divergence {e['kl']:.3f}"
                         for m, e in embeddings.items()])
    plot_scatter_panels([e["pca"] for e in embeddings.values()], y, CLASSES, out / "fig09_pca.png",
                        f"Figure 9: PCA of the latent codes of {n:,} test images",
                        [[f"principal component {i + 1} ({100 * r:.1f} % of the variance)"
                          for i, r in enumerate(e["ratio"])] for e in embeddings.values()],
                        [f"{m} (d = {d[m]})" for m in codes])
    rows = decoded_samples(models, z_train, 10, torch.Generator().manual_seed(args.seed))
    plot_grid(torch.stack(list(rows.values())), out / "fig04_ae_samples.png",
              "Figure 4: random latent codes decoded, " + ", ".join(f"{m} d = {d[m]}" for m in d),
              row_labels=[textwrap.fill(FIGURE_4_ROWS[key], 18) for key in rows])
    a, b = first_of_classes(y, WALK)
    panels = []
    for i, (name, model) in enumerate(models.items()):
        z = codes[name]
        line = decode_line(model.decode, z[a:a + 1], z[b:b + 1], args.steps)[0]  # (steps+1, ...)
        panels.append((f"({'ab'[i]}) {name} (d = {d[name]})",
                       torch.cat([x[a:a + 1], line, x[b:b + 1]]),
                       bilinear_grid(model.decode, z[first_of_classes(y, CORNERS)])))
    plot_interpolations(panels, out / "fig05a_ae_interpolation.png",
                        "Figure 5a: interpolation in the AE's latent space"
                        + (" (the VAE's beside it, as Figure 5b)" if "VAE" in models else ""),
                        WALK, CORNERS)


# --- Command line ------------------------------------------------------------

def build_parser():
    parser = Parser(description=__doc__.split("\n")[0] + "\n\nReads OUT_DIR/ae.pt (written by "
                    "`python ae.py`) and, where it exists,\nOUT_DIR/vae.pt (`python vae.py`).")
    parser.add_argument("--perplexity", type=positive_float, default=30.0,
                        help="t-SNE's effective number of neighbours (the report does not "
                             "state it; 30 is the usual default)")
    parser.add_argument("--tsne-points", type=non_negative_int, default=3000,
                        help="test images t-SNE embeds, a random subsample (0 = all): exact t-SNE "
                             "costs O(n^2) per iteration; the same on every device, as Figure 3 "
                             "and t-SNE's 10-NN accuracy are (the others use all test images)")
    parser.add_argument("--tsne-iters", type=positive_int, default=1000,
                        help="t-SNE iterations, the first 250 with early exaggeration 12 "
                             "(scikit-learn's defaults)")
    parser.add_argument("--steps", type=positive_int, default=10,
                        help="equal steps of a walk between two images (Figure 5a)")
    parser.add_argument("--pairs", type=positive_int, default=1000,
                        help="random pairs of test images for the smoothness")
    parser.add_argument("--k", type=positive_int, default=10, help="neighbours of the k-NN")
    add_common_flags(parser)
    return parser


if __name__ == "__main__":
    run(main)

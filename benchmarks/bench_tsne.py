"""t-SNE of explore.py against scikit-learn's TSNE, on the same latent codes of the AE.

Both embed the AE's codes (outputs/ae.pt) of the same test images with the same settings
(perplexity 30, 1,000 iterations, early exaggeration 12, PCA start, learning rate "auto"),
judged alike by KL(P || Q) from one P (scikit-learn's own figure is printed too) and by the
10-NN class accuracy in the embedding. Targets: KL within 3 %, 10-NN accuracy within 1 point;
on a GPU, all 10,000 points in <= 5 s and >= 3 x faster.

scikit-learn is needed only here; the project never imports it. Install it apart:
    python -m venv --system-site-packages /tmp/bench && /tmp/bench/bin/pip install scikit-learn
    OMP_NUM_THREADS=1 /tmp/bench/bin/python -m benchmarks.bench_tsne --points 2000
    /tmp/bench/bin/python -m benchmarks.bench_tsne --points 0 --device cuda --methods barnes_hut
    /tmp/bench/bin/python -m benchmarks.bench_tsne --quick   # after python ae.py --quick
"""
import time
from pathlib import Path

import torch

from common import batched, load_test
from explore import affinities, kl_divergence, knn_accuracy, load_models, tsne
from plumbing.cli import (Parser, add_common_flags, non_negative_int, parse_args, pick_device,
                          positive_float, positive_int)
from plumbing.files import save_json

parser = Parser(description=__doc__.split("\n")[0])
parser.add_argument("--points", type=non_negative_int, default=2000,
                    help="random test images to embed (0 = all 10,000)")
parser.add_argument("--methods", default="exact,barnes_hut",
                    help="scikit-learn methods to compare with, comma-separated")
parser.add_argument("--perplexity", type=positive_float, default=30.0, help="t-SNE's")
parser.add_argument("--iters", type=positive_int, default=1000, help="t-SNE's iterations")
add_common_flags(parser)  # --out-dir holds ae.pt, and bench_tsne.json goes there
args = parse_args(parser, {"subset": 2000, "points": 0, "iters": 250})
device = pick_device(args.device)
sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None  # before each clock

try:
    from sklearn.manifold import TSNE
    import sklearn
except ImportError:
    raise SystemExit("error: this benchmark needs scikit-learn; install it apart, as the "
                     "docstring of benchmarks/bench_tsne.py shows")


encode = load_models(Path(args.out_dir), device)["AE"].encode
x, y = load_test(args.data_dir, device, args.subset)
n = args.points or len(x)
sub = torch.randperm(len(x), generator=torch.Generator().manual_seed(args.seed))[:n].sort().values
z = batched(encode, x[sub.to(device)])              # (n, d)
y, d = y[sub.to(device)], z.shape[1]
print(f"{n} test images, AE codes of d = {d}, torch {torch.__version__} on {device}, "
      f"scikit-learn {sklearn.__version__}, {torch.get_num_threads()} threads")

# one P for judging every embedding, as t-SNE defines it
P = affinities(z, args.perplexity)

rows = []
if device.type == "cuda":
    tsne(z[:200], args.perplexity, 10, log_every=0)               # warm up: CUDA start-up
sync()
t0 = time.perf_counter()
Y, _ = tsne(z, args.perplexity, args.iters, log_every=0)
sync()
rows.append(("explore.py (exact, torch)", time.perf_counter() - t0, kl_divergence(P, Y),
             None, knn_accuracy(Y, y)))

z_np, y_cpu = z.cpu().numpy(), y.cpu()
for method in args.methods.split(","):
    t0 = time.perf_counter()
    model = TSNE(perplexity=args.perplexity, max_iter=args.iters, method=method, init="pca",
                 learning_rate="auto", random_state=args.seed)
    Y_sk = torch.tensor(model.fit_transform(z_np), dtype=torch.float32)
    seconds = time.perf_counter() - t0
    rows.append((f"scikit-learn {method}", seconds, kl_divergence(P.cpu(), Y_sk),
                 float(model.kl_divergence_), knn_accuracy(Y_sk, y_cpu)))

print(f"\n{'t-SNE':28s} {'seconds':>8s} {'KL':>7s} {'KL (own)':>9s} {'10-NN acc':>10s}")
for name, seconds, kl, kl_own, acc in rows:
    own = f"{kl_own:9.4f}" if kl_own is not None else f"{'':9s}"
    print(f"{name:28s} {seconds:8.1f} {kl:7.4f} {own} {acc:10.4f}")
ours = rows[0]
for name, seconds, kl, _, acc in rows[1:]:
    print(f"against {name}: KL {100 * (ours[2] / kl - 1):+.1f} % (target within 3 %), "
          f"10-NN accuracy {100 * (ours[4] - acc):+.1f} points (target within 1), "
          f"{seconds / ours[1]:.1f} x faster")
save_json(Path(args.out_dir) / "bench_tsne.json",
          {"points": n, "device": str(device), "threads": torch.get_num_threads(),
           "sklearn": sklearn.__version__, "d": d,
           "rows": [dict(zip(("name", "seconds", "kl", "kl_sklearn_own", "knn10"), r))
                    for r in rows]})

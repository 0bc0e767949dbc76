"""Keeps figures whole: drawn without a window, written atomically, labelled for a reader (a
log axis whose labels read plainly, image grids with a title and row and column labels)."""
import textwrap

from plumbing import files


def pyplot():
    """matplotlib.pyplot, drawing to files only (no window): every figure goes through here."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plain_log_axis(axis):
    """A log-scale axis whose labels read 0.015, 0.02, ... rather than 2 x 10^-2."""
    from matplotlib.ticker import FuncFormatter, LogLocator
    axis.set_minor_locator(LogLocator(subs=(1.5, 2, 3, 4, 6, 8)))
    for set_formatter in (axis.set_major_formatter, axis.set_minor_formatter):
        set_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def plot_grid(images, path, title, row_labels=None, col_labels=None, cell=0.9):
    """Save images (R, C, 28, 28) (or (R, C, 1, 28, 28)) as one figure: a single mosaic
    (one imshow, fast for a 10 x 10 grid) with a title and optional row and column labels."""
    from torchvision.utils import make_grid
    plt = pyplot()
    rows, cols = images.shape[:2]
    pad = 2  # white pixels between cells
    mosaic = make_grid(images.detach().float().cpu().reshape(-1, 1, 28, 28), nrow=cols,
                       padding=pad, pad_value=1)[0].numpy()             # (H, W): one channel
    left = 1.3 if row_labels else 0.2
    top = 0.8 + 0.3 * bool(col_labels)
    fig, ax = plt.subplots(figsize=(left + cols * cell, top + rows * cell))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
    centers = lambda n: [pad + (28 + pad) * i + 13.5 for i in range(n)]  # of each cell
    ax.set_xticks(centers(cols) if col_labels else [], col_labels or [], fontsize=9)
    ax.set_yticks(centers(rows) if row_labels else [], row_labels or [], fontsize=9)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    width = fig.get_size_inches()[0]
    fig.suptitle("\n".join(textwrap.wrap(title, int(width * 9))), fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


def save_figure(fig, path):
    """Every figure goes to its file through here: atomically, then closed."""
    files.write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    pyplot().close(fig)


def plot_latent_plane(codes, y, class_names, z, images, path, title, panel_titles):
    """A 2-D latent space in two panels: the codes (n, 2) as points coloured by class, the
    grid's edge drawn over them; beside them, images (R, C, 1, 28, 28), the decoder over
    the grid z (R, C, 2), with the top row at the largest z2 and z's values on the axes."""
    plt = pyplot()
    from torchvision.utils import make_grid
    codes, y, z = codes.cpu().numpy(), y.cpu().numpy(), z.cpu().numpy()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 7.2))
    for c, name in enumerate(class_names):
        left.scatter(codes[y == c, 0], codes[y == c, 1], s=2, color=plt.cm.tab10(c), label=name)
    (z1_lo, z2_hi), (z1_hi, z2_lo) = z[0, 0].tolist(), z[-1, -1].tolist()
    left.add_patch(plt.Rectangle((z1_lo, z2_lo), z1_hi - z1_lo, z2_hi - z2_lo, fill=False,
                                 linestyle="--", label="the grid on the right"))
    left.set(xlabel="z1", ylabel="z2")
    left.set_title(panel_titles[0], fontsize=10)
    rows, cols = images.shape[:2]
    right.imshow(make_grid(images.reshape(-1, 1, 28, 28).cpu(), nrow=cols, padding=1,
                           pad_value=1)[0].numpy(), cmap="gray", vmin=0, vmax=1)
    # every third cell's value, counted from both edges: symmetric, and no labels overlap
    every = lambda n: sorted({*range(0, n // 2 - 1, 3), *range(n - 1, n // 2, -3)})
    right.set_xticks([1 + 29 * j + 14 for j in every(cols)],
                     [f"{z[-1, j, 0]:.2f}" for j in every(cols)], fontsize=8, rotation=90)
    right.set_yticks([1 + 29 * i + 14 for i in every(rows)],
                     [f"{z[i, 0, 1]:.2f}" for i in every(rows)], fontsize=8)
    right.set(xlabel="z1 (each column's value)", ylabel="z2 (each row's value)")
    right.set_title(panel_titles[1], fontsize=10)
    fig.legend(*left.get_legend_handles_labels(), loc="lower center", ncol=6, markerscale=5,
               frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 0.97))  # room for the legend below, the title above
    save_figure(fig, path)

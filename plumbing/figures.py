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


def plot_curves(panels, path, title, ylabel, log=False):
    """Training (solid) and validation (dashed) values per epoch, an axis a panel, a colour a run:
    panels {panel title: {run name ("" for a panel's one run): (training, validation values)}}."""
    fig, axes = pyplot().subplots(1, len(panels), figsize=(max(7, 4.3 * len(panels)), 4.5),
                                  squeeze=False, layout="tight")
    for ax, (panel, runs) in zip(axes[0], panels.items()):
        for i, (name, curves) in enumerate(runs.items()):
            for values, kind, style in zip(curves, ("training", "validation"), ("-", "--")):
                ax.plot(range(1, len(values) + 1), values, style, color=f"C{i}", marker=".",
                        label=f"{name}, {kind}" if name else kind)
        ax.set(xlabel="epoch", ylabel=ylabel, yscale="log" if log else "linear")
        if log:
            plain_log_axis(ax.yaxis)
        ax.set_title(panel, fontsize=10)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    save_figure(fig, path)


def plot_grid(images, path, title, row_labels=None, col_labels=None, cell=0.9):
    """Save images (R, C, 28, 28) (or (R, C, 1, 28, 28)) as one figure: a single mosaic
    (one imshow, fast for a 10 x 10 grid) with a title and optional row and column labels."""
    rows, cols = images.shape[:2]
    pad = 2  # white pixels between cells
    left = 1.3 if row_labels else 0.2
    top = 0.8 + 0.3 * bool(col_labels)
    fig, ax = pyplot().subplots(figsize=(left + cols * cell, top + rows * cell))
    show_images(ax, images, cols, pad)
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


def show_images(ax, images, cols, pad=2):
    """Images (..., 28, 28) drawn on ax as one mosaic (one imshow, fast for a 10 x 10 grid) of
    `cols` columns, `pad` white pixels apart."""
    from torchvision.utils import make_grid
    mosaic = make_grid(images.detach().float().cpu().reshape(-1, 1, 28, 28), nrow=cols,
                       padding=pad, pad_value=1)[0]                     # (H, W): one channel
    ax.imshow(mosaic.numpy(), cmap="gray", vmin=0, vmax=1)


def scatter_classes(ax, points, y, class_names):
    """Points (n, 2) coloured by their class y (n,), each class labelled with its name."""
    points, y = points.cpu(), y.cpu()
    for c, name in enumerate(class_names):
        ax.scatter(*points[y == c].T, s=2, color=f"C{c}", label=name)


def save_figure(fig, path):
    """Every figure goes to its file through here: atomically, then closed."""
    files.write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    pyplot().close(fig)


def plot_latent_plane(codes, y, class_names, z, images, path, title, panel_titles):
    """A 2-D latent space in two panels: the codes (n, 2) as points coloured by class, the
    grid's edge drawn over them; beside them, images (R, C, 1, 28, 28), the decoder over
    the grid z (R, C, 2), with the top row at the largest z2 and z's values on the axes."""
    plt = pyplot()
    z = z.cpu().numpy()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 7.2))
    scatter_classes(left, codes, y, class_names)
    (z1_lo, z2_hi), (z1_hi, z2_lo) = z[0, 0].tolist(), z[-1, -1].tolist()
    left.add_patch(plt.Rectangle((z1_lo, z2_lo), z1_hi - z1_lo, z2_hi - z2_lo, fill=False,
                                 linestyle="--", label="the grid on the right"))
    left.set(xlabel="z1", ylabel="z2")
    left.set_title(panel_titles[0], fontsize=10)
    rows, cols = images.shape[:2]
    show_images(right, images, cols, pad=1)
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


def plot_scatter_panels(points, y, class_names, path, title, axis_labels, panel_titles):
    """One scatter plot per model, of the points (n, 2) of each, coloured by their class y (n,),
    and one legend with the class names."""
    fig, axes = pyplot().subplots(1, len(points), figsize=(1 + 5.5 * len(points), 5.8),
                                  squeeze=False, layout="tight")
    for ax, p, (xlabel, ylabel), panel in zip(axes[0], points, axis_labels, panel_titles):
        scatter_classes(ax, p, y, class_names)
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.set_title(panel, fontsize=10)
    axes[0, -1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), markerscale=5,
                       title="class", frameon=False)
    fig.suptitle(title)
    save_figure(fig, path)


def plot_interpolations(panels, path, title, ends, corners):
    """Per model, a walk from image A to image B (originals at both ends) above a 10 x 10 grid
    between four images. panels: list of (panel title, walk (steps+3, 1, 28, 28), grid (10, 10,
    1, 28, 28)); ends: the classes of A and B; corners: of the grid's TL, TR, BL, BR."""
    fig, axes = pyplot().subplots(2, len(panels), figsize=(0.5 + 6.5 * len(panels), 9.2),
                                  squeeze=False, height_ratios=[1, 7.5], layout="tight")
    for (name, walk, grid), top, bottom in zip(panels, *axes):  # a column of axes per model
        steps = len(walk) - 3
        show_images(top, walk, len(walk))
        top.set_xticks([2 + 30 * i + 14 for i in range(len(walk))],
                       ["A", *(f"{i / steps:g}" for i in range(steps + 1)), "B"], fontsize=7)
        top.set_yticks([])
        top.set_xlabel(f"t, from {ends[0]} A (t = 0) to {ends[1]} B (t = 1)", fontsize=8)
        top.set_title(f"{name}\nwalk in {steps} equal steps, originals at both ends", fontsize=10)
        show_images(bottom, grid, len(grid))
        bottom.set(xticks=[], yticks=[])
        bottom.set_title(f"bilinear grid between four test images: {corners[0]} (top left), "
                         f"{corners[1]} (top right),\n{corners[2]} (bottom left), "
                         f"{corners[3]} (bottom right)", fontsize=8)
    fig.suptitle(title)
    save_figure(fig, path)


def plot_confusion_matrix(cm, class_names, path, title):
    """A confusion matrix (C, C), counts in the cells, class names on the axes."""
    fig, ax = pyplot().subplots(figsize=(8, 7), layout="tight")
    ax.imshow(cm, cmap="Blues")
    for i, row in enumerate(cm.tolist()):
        for j, n in enumerate(row):
            ax.text(j, i, n, ha="center", va="center", fontsize=8,
                    color="white" if n > cm.max() / 2 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    save_figure(fig, path)

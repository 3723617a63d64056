"""The book's figures: one plotting style, and one function per kind of figure.

The functions draw what they are given; they compute nothing of their own
beyond what a picture needs (the loss curve under the points, for example).
Every figure labels its axes with the book's symbols.
"""

from __future__ import annotations

try:  # the figures need matplotlib; metaopt itself needs only numpy and sympy
    import matplotlib  # noqa: F401
except ImportError as err:
    raise ImportError('metaopt.plotting needs matplotlib: pip install "metaopt[book]"') from err

import json
import os
import re

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch

__all__ = [
    "COLORS",
    "PAGE_WIDTH",
    "use_book_style",
    # Part I
    "plot_inner_loop",
    "plot_unrolled_graph",
    "plot_loss_along",
    "plot_meta_training",
    "plot_trajectories",
    # Part II
    "plot_convergence_map",
    "plot_loss_slice",
    "plot_training_curves",
    "plot_log_curves",
    # the appendix "Performance"
    "plot_closed_form_times",
    "plot_peer_times",
    "plot_page_weights",
    # Part III
    "plot_loss_bands",
    # the Korean edition's figures
    "korean_twin",
]

#: One color per role, used in every chapter.
COLORS = {
    "theta": "#1f4e79",  # the optimizee parameter and its loss
    "old": "#7f7f7f",  # phi_old
    "true": "#1b7837",  # the true meta-gradient and what it leads to
    "assumed": "#b2182b",  # the document's assumed meta-gradient
    "learned": "#e08214",  # the meta-trained optimizer
    "gd": "#5e3c99",  # plain gradient descent
    "phi": ("#1b9e77", "#d95f02", "#7570b3"),  # phi1, phi2, phi3
    "unstable": "#b2182b",  # an optimizer whose inner loop diverges (same red as the assumed gradient)
    "momentum": "#01665e",  # heavy-ball momentum baseline
    "adam": "#8c510a",  # Adam baseline
}


#: Figure width in inches that fits the book's content column: at 100 dpi a figure
#: this wide is shown at nearly its full size in a 1280 px window (measured: 97 %),
#: so its text stays legible. Wider figures are scaled down to fit, and
#: tests/test_browser.py fails when a figure is shown below 75 % of its size.
PAGE_WIDTH = 6.8


def use_book_style() -> None:
    """Set the matplotlib style every figure in the book uses.

    In a notebook, figures are also stored at twice their resolution ("retina": a PNG of
    2x the pixels, shown at the size of a 100 dpi figure), so they stay sharp on a
    high-density screen and in print.
    """
    _retina_figures()
    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 3.8),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.constrained_layout.use": True,
            "font.size": 11,
            "axes.titlesize": 11,
            "axes.labelsize": 11,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "legend.frameon": False,
            "lines.linewidth": 2,
            "lines.markersize": 7,
        }
    )


def _retina_figures() -> None:
    """In an IPython kernel, store figures as PNGs of twice the pixels (shown at their 100 dpi size)."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing is displayed inline
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


#: The font of a text with Korean words (Debian's fonts-noto-cjk, which has Latin letters too),
#: then the book's text font for any glyph it lacks. First, because the text around a formula
#: (``메타 손실 $L$``) is drawn in the first font alone; the formula keeps the book's math font.
KOREAN_FONT = ["Noto Sans CJK KR", "DejaVu Sans"]
#: A figure text that needs a translation: an English word outside its formulas.
_MATH = re.compile(r"\$[^$]*\$")
_WORD = re.compile(r"\b[a-z]{3,}\b")


def _needs_words(text: str) -> bool:
    return bool(_WORD.search(_MATH.sub(" ", text)))


def _korean_font_found() -> bool:
    from matplotlib import font_manager

    for attempt in range(2):
        try:
            font_manager.findfont(KOREAN_FONT[0], fallback_to_default=False)
            return True
        except ValueError:
            if attempt == 0:  # fonts installed after matplotlib made its font list: read them again
                font_manager.fontManager = font_manager._load_fontmanager(try_read_cache=False)
    return False


def korean_twin(fig, name: str, words: dict | None = None):
    """Glue ``fig`` drawn with Korean words as ``<name>_ko`` (not shown), for the Korean edition.

    Every text of the figure (titles, axis labels, legends, notes) that has an English word is
    replaced by its entry in ``words`` (:data:`metaopt.figure_words.KOREAN`) while the figure is
    saved, at twice its pixels like the book's figures, then put back: the English figure is
    what the cell shows. A text with an English word and no entry raises a KeyError naming it.
    The Korean edition's build shows the glued picture in the place of the English one
    (``booktools.edition``). Returns the PNG's bytes. With the environment variable
    ``METAOPT_COLLECT_FIGURE_WORDS`` set to a file, the missing texts are appended to it (one
    JSON line each) instead, so that ``make execute`` lists every figure's at once.
    """
    import io
    import warnings

    from matplotlib.text import Text

    from metaopt.book import glue_image
    from metaopt.figure_words import KOREAN

    words = KOREAN if words is None else words
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    missing = sorted({t.get_text() for t in texts if _needs_words(t.get_text()) and t.get_text() not in words})
    collect = os.environ.get("METAOPT_COLLECT_FIGURE_WORDS")
    if missing and collect:  # a maintainer's aid: list every figure's missing words in one run
        with open(collect, "a", encoding="utf-8") as listing:
            listing.writelines(json.dumps({"figure": name, "text": text}, ensure_ascii=False) + "\n"
                               for text in missing)
    elif missing:
        raise KeyError(f"figure {name}: no Korean for {missing}; add them to metaopt.figure_words.KOREAN")
    if not _korean_font_found():
        warnings.warn(f"figure {name}: no Korean font ({KOREAN_FONT[0]}, Debian's fonts-noto-cjk): "
                      "its Korean twin shows empty boxes", stacklevel=2)
    saved = [(t, t.get_text(), t.get_fontproperties().copy()) for t in texts if t.get_text() in words]
    buffer = io.BytesIO()
    try:
        for text, english, _font in saved:
            text.set_text(words[english])
            text.set_fontfamily(KOREAN_FONT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a missing glyph is warned about once, above
            fig.savefig(buffer, format="png", dpi=2 * fig.dpi, bbox_inches="tight")
    finally:
        for text, english, font in saved:
            text.set_text(english)
            text.set_fontproperties(font)
    png = buffer.getvalue()
    glue_image(f"{name}_ko", png)
    return png


def plot_inner_loop(traj, theta_star, ax=None):
    """The optimizee's loss curve with theta_0, theta_1, ... marked and joined by arrows."""
    ax = ax or plt.subplots()[1]
    theta = np.asarray(traj.theta, dtype=float)
    lo = min(theta.min(), theta_star) - 1.0
    hi = max(theta.max(), theta_star) + 1.0
    grid = np.linspace(lo, hi, 400)
    ax.plot(grid, (grid - theta_star) ** 2, color=COLORS["theta"], lw=1.5, label=r"$L(\theta) = (\theta - \theta^*)^2$")
    loss = (theta - theta_star) ** 2
    for t in range(len(theta) - 1):
        ax.add_patch(
            FancyArrowPatch(
                (theta[t], loss[t]), (theta[t + 1], loss[t + 1]),
                arrowstyle="-|>", mutation_scale=14, color="black", lw=1.2,
                connectionstyle="arc3,rad=0.25", shrinkA=6, shrinkB=6,
            )
        )
    ax.plot(theta, loss, "o", color=COLORS["learned"], zorder=3)
    for t, (x, y) in enumerate(zip(theta, loss)):
        ax.annotate(rf"$\theta_{t}$", (x, y), textcoords="offset points", xytext=(8, -14))
    ax.plot([theta_star], [0.0], "*", color=COLORS["true"], ms=14, zorder=3, label=r"minimum $\theta^*$")
    ax.set_xlabel(r"$\theta$")
    ax.set_ylabel(r"$L(\theta)$")
    ax.legend(loc="upper left")
    return ax


def _node(ax, xy, text, color):
    ax.text(
        *xy, text, ha="center", va="center", fontsize=13, zorder=3,
        bbox=dict(boxstyle="round,pad=0.35", fc="white", ec=color, lw=1.5),
    )


def _edge(ax, a, b, color="black", style="-", rad=0.0):
    ax.add_patch(
        FancyArrowPatch(
            a, b, arrowstyle="-|>", mutation_scale=12, color=color, lw=1.1, linestyle=style,
            shrinkA=16, shrinkB=16, connectionstyle=f"arc3,rad={rad}", zorder=2,
        )
    )


def plot_unrolled_graph(steps=2, ax=None):
    """The inner loop unrolled into a computation graph, from theta_0 to the meta-loss.

    Columns are time steps. Black arrows are the forward pass; backpropagation
    through time visits the same arrows in reverse, right to left. The
    parameters phi (top) feed every step: their gradient sums over all steps.
    """
    ax = ax or plt.subplots(figsize=(2.6 * steps + 2.2, 4.4))[1]
    col = lambda t: 2.6 * t  # noqa: E731
    y = {"phi": 4.0, "h": 3.0, "g": 2.0, "grad": 1.0, "theta": 0.0}
    for t in range(steps):
        x = col(t)
        _node(ax, (x, y["theta"]), rf"$\theta_{t}$", COLORS["theta"])
        _node(ax, (x + 0.8, y["grad"]), rf"$\nabla_{t}$", COLORS["theta"])
        _node(ax, (x + 1.3, y["h"]), rf"$h_{t}$", COLORS["learned"])
        _node(ax, (x + 1.9, y["g"]), rf"$g_{t}$", COLORS["learned"])
        _edge(ax, (x, y["theta"]), (x + 0.8, y["grad"]))
        _edge(ax, (x + 0.8, y["grad"]), (x + 1.3, y["h"]))
        _edge(ax, (x + 1.3, y["h"]), (x + 1.9, y["g"]))
        _edge(ax, (x + 1.9, y["g"]), (col(t + 1), y["theta"]))
        _edge(ax, (x, y["theta"]), (col(t + 1), y["theta"]))
        if t > 0:
            _edge(ax, (col(t - 1) + 1.3, y["h"]), (x + 1.3, y["h"]))
        for k, target in ((1, (x + 1.3, y["h"])), (2, (x + 1.3, y["h"])), (3, (x + 1.9, y["g"]))):
            if k == 2 and t == 0:
                continue  # h_{-1} = 0: phi2 has no effect at t = 0
            _edge(ax, (col(t) + 0.4 * k, y["phi"]), target, color=COLORS["phi"][k - 1], style=":")
        for k in (1, 2, 3):
            _node(ax, (col(t) + 0.4 * k, y["phi"]), rf"$\phi_{k}$", COLORS["phi"][k - 1])
    xT = col(steps)
    _node(ax, (xT, y["theta"]), rf"$\theta_{steps}$", COLORS["theta"])
    _node(ax, (xT + 0.9, y["grad"] + 0.6), r"$L(\theta_{%d})$" % steps, COLORS["assumed"])
    _edge(ax, (xT, y["theta"]), (xT + 0.9, y["grad"] + 0.6))
    ax.set_xlim(-0.6, xT + 1.6)
    ax.set_ylim(-0.6, 4.6)
    ax.axis("off")
    return ax


def plot_loss_along(etas, curves, eta_marks=(), ax=None):
    """Meta-loss along rays phi - eta d, one curve per direction d.

    ``curves`` maps a label to (losses, color); ``eta_marks`` is a list of
    (eta, label) drawn as vertical lines.
    """
    ax = ax or plt.subplots()[1]
    for label, (losses, color) in curves.items():
        ax.plot(etas, losses, color=color, label=label)
    for eta, label in eta_marks:
        ax.axvline(eta, color="black", lw=1, ls="--")
        ax.annotate(label, (eta, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize=9)
    ax.set_xlabel(r"meta step size $\eta$")
    ax.set_ylabel(r"meta-loss $L(\theta_2)$ after the update")
    ax.legend(loc="center right")
    return ax


def plot_meta_training(history, axes=None):
    """Meta-loss per iteration (log scale) and the three parameters phi per iteration."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 3.4))
    k = np.arange(len(history.loss))
    positive = history.loss > 0
    axes[0].semilogy(k[positive], history.loss[positive], color=COLORS["learned"])
    axes[0].set_xlabel(r"meta-iteration $k$")
    axes[0].set_ylabel(r"meta-loss $L(\theta_2)$")
    for i in range(3):
        axes[1].plot(k, history.phi[:, i], color=COLORS["phi"][i], label=rf"$\phi_{i + 1}$")
    axes[1].set_xlabel(r"meta-iteration $k$")
    axes[1].set_ylabel(r"$\phi^{(k)}$")
    axes[1].legend(loc="center right")
    return axes


def plot_trajectories(trajectories, theta_star, horizon=None, ax=None):
    """theta_t against t for several optimizers; ``trajectories`` maps label -> (traj, color)."""
    ax = ax or plt.subplots()[1]
    for label, (traj, color) in trajectories.items():
        theta = np.asarray(traj.theta, dtype=float)
        ax.plot(np.arange(len(theta)), theta, "o-", color=color, label=label, ms=5)
    ax.axhline(theta_star, color="black", lw=1, ls=":", label=r"$\theta^*$")
    if horizon is not None:
        ax.axvline(horizon, color="black", lw=1, ls="--")
        ax.annotate(f"meta-training horizon T = {horizon}", (horizon, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(4, -12), textcoords="offset points", fontsize=9)
    ax.set_xlabel(r"inner step $t$")
    ax.set_ylabel(r"$\theta_t$")
    ax.legend(loc="upper right")
    return ax


# --- Part II, chapters 5 and 6: dynamics, landscape, meta-optimizers -------------------------

def plot_convergence_map(alphas, betas, rho, points=None, curves=None, ax=None):
    """The spectral radius rho(M) over the (alpha, beta) plane, with the boundary rho = 1.

    ``rho`` has shape (len(betas), len(alphas)); the region rho >= 1 (the inner
    loop diverges) is grey. ``points`` maps a label to ((alpha, beta), color,
    marker); ``curves`` maps a label to (alpha_values, beta_values, color, linestyle).
    """
    ax = ax or plt.subplots(figsize=(6.4, 4.6))[1]
    rho = np.asarray(rho, dtype=float)
    stable = np.ma.masked_where(rho >= 1.0, rho)
    image = ax.pcolormesh(alphas, betas, stable, cmap="viridis", vmin=0.0, vmax=1.0, shading="auto")
    ax.pcolormesh(alphas, betas, np.ma.masked_where(rho < 1.0, rho), cmap="Greys", vmin=0.0, vmax=4.0,
                  shading="auto")
    ax.contour(alphas, betas, rho, levels=[1.0], colors="black", linewidths=1.2)
    plt.colorbar(image, ax=ax, label=r"spectral radius $\rho(M)$ where $< 1$")
    for label, (xs, ys, color, style) in (curves or {}).items():
        ax.plot(xs, ys, color=color, ls=style, lw=1.8, label=label)
    for label, ((a, b), color, marker) in (points or {}).items():
        ax.plot([a], [b], marker, color=color, ms=15 if marker == "*" else 10, mec="white", mew=1.2,
                label=label, zorder=4)
    ax.set_xlim(float(np.min(alphas)), float(np.max(alphas)))
    ax.set_ylim(float(np.min(betas)), float(np.max(betas)))
    ax.set_xlabel(r"step size $\alpha = -\phi_1\phi_3$")
    ax.set_ylabel(r"momentum $\beta = \phi_2$")
    ax.grid(False)
    ax.legend(loc="lower right", fontsize=9, frameon=True, framealpha=0.9, facecolor="0.75")
    return ax


def plot_loss_slice(u, v, loss, xlabel, ylabel, points=None, floor=1e-4, ax=None, legend=True):
    """Contours of log10 of the meta-loss on a plane of phi-space; ``points`` as in plot_convergence_map.

    Values below ``floor`` are drawn at the floor, so the zero-loss curve shows as the darkest valley.
    """
    ax = ax or plt.subplots()[1]
    logged = np.log10(np.maximum(np.asarray(loss, dtype=float), floor))
    filled = ax.contourf(u, v, logged, levels=24, cmap="magma")
    plt.colorbar(filled, ax=ax, label=r"$\log_{10} L(\theta_2)$")
    for label, ((x, y), color, marker) in (points or {}).items():
        ax.plot([x], [y], marker, color=color, ms=15 if marker == "*" else 9, mec="white", mew=1.0,
                label=label, zorder=4)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    if points and legend:
        ax.legend(loc="upper right", fontsize=9, frameon=True, framealpha=0.9)
    return ax


def plot_training_curves(runs, ax=None, ylabel=r"meta-loss $L(\theta_2)$"):
    """Meta-loss per meta-iteration, log scale; ``runs`` maps a label to (history, color, linestyle).

    Iterations where the loss is exactly 0 are left out (a log scale has no 0).
    """
    ax = ax or plt.subplots()[1]
    for label, (history, color, style) in runs.items():
        loss = np.asarray(history.loss, dtype=float)
        k = np.arange(len(loss))
        keep = loss > 0
        ax.semilogy(k[keep], loss[keep], color=color, ls=style, label=label)
    ax.set_xlabel(r"meta-iteration $k$")
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper right", fontsize=9)
    return ax


# ---------------------------------------------------------------------------
# Part II, chapters 7-8: long horizons and learning across tasks
# ---------------------------------------------------------------------------



def plot_log_curves(x, curves, xlabel, ylabel, logx=False, band=None, band_label=None, logy=True, ax=None):
    """Curves on a logarithmic y axis; ``curves`` maps label -> (y, color) or (y, color, linestyle).

    Non-positive values are left out (they have no logarithm; ``logy=False`` gives a
    linear axis and keeps them). ``band`` = (low, high)
    shades an x range, for example the training range of a task distribution.
    """
    ax = ax or plt.subplots()[1]
    x = np.asarray(x, dtype=float)
    for label, spec in curves.items():
        y, color = np.asarray(spec[0], dtype=float), spec[1]
        style = spec[2] if len(spec) > 2 else "-"
        keep = y > 0 if logy else np.isfinite(y)
        ax.plot(x[keep], y[keep], style, color=color, label=label, lw=1.8)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    if band is not None:
        ax.axvspan(*band, color="#bbbbbb", alpha=0.3, lw=0, label=band_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize=9)
    return ax


# --- the appendix "Performance": benchmark results (benchmarks/results.json) ----------------

def plot_closed_form_times(closed_form, ax=None):
    """Seconds to get the exact meta-gradient against the horizon T, on a log scale:
    the library's sparse polynomials and the naive ``sympy.expand`` after every step."""
    if ax is None:
        _, ax = plt.subplots()
    new, naive = closed_form["new"], closed_form["naive"]
    ax.semilogy(naive["T"], naive["seconds"], "s-", ms=4, color=COLORS["old"],
                label="naive: sympy.expand after every step")
    ax.semilogy(new["T"], new["seconds"], "o-", ms=4, color=COLORS["learned"],
                label="symbolic.meta_gradient (sparse polynomials)")
    ax.set_xlabel("inner steps $T$")
    ax.set_ylabel("seconds (log scale)")
    ax.legend(loc="lower right", fontsize=9)
    return ax


def _seconds_label(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def plot_peer_times(results, axes=None):
    """Time of one meta-gradient, log scale: for one phi (top: the plain-Python floor, metaopt,
    JAX jitted) and for a batch of phi (bottom: metaopt, JAX jitted and vmapped), each horizon
    a group of bars labelled with its time."""
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(PAGE_WIDTH, 6.4))
    top, bottom = axes
    single, batch = results["single"], results["batch_jax"]
    panels = [
        (top, single["rows"], [("floor_s", "plain Python floor", COLORS["old"]),
                               ("metaopt_s", "metaopt", COLORS["learned"]),
                               ("jax_s", "JAX, jit", COLORS["true"])],
         "one $\\phi$"),
        (bottom, batch["rows"], [("metaopt_s", "metaopt", COLORS["learned"]),
                                 ("jax_s", "JAX, jit + vmap", COLORS["true"])],
         f"{batch['n']} values of $\\phi$ at once"),
    ]
    for ax, rows, bars, title in panels:
        width = 0.8 / len(bars)
        for i, (key, label, color) in enumerate(bars):
            x = np.arange(len(rows)) + (i - (len(bars) - 1) / 2) * width
            values = [row[key] for row in rows]
            ax.bar(x, values, width=width * 0.95, color=color, label=label)
            for xi, v in zip(x, values):
                ax.text(xi, v * 1.15, _seconds_label(v), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(np.arange(len(rows)), [f"T = {row['steps']:,}" for row in rows])
        ax.set_yscale("log")
        low = min(row[key] for row in rows for key, _, _ in bars)
        high = max(row[key] for row in rows for key, _, _ in bars)
        ax.set_ylim(low / 3, high * 40)  # room for the labels and the legend above the bars
        ax.set_ylabel("seconds (log scale)")
        ax.set_title(title)
        ax.legend(loc="upper left", fontsize=9, ncol=len(bars))
    return axes


#: The kinds of file a page downloads, in the order they are stacked, with their colors.
PAGE_PARTS = (("page", "the page (HTML)"), ("figures", "its figures"), ("mathjax", "MathJax"),
              ("theme", "theme and extensions: scripts, styles, fonts"), ("book", "the book's own CSS"),
              ("explorables", "explorables: plotly.js and their scripts"))


def plot_page_weights(pages, ax=None):
    """What a first visit to each page downloads, in MiB, stacked by kind (one bar per page)."""
    rows = pages["rows"]
    if ax is None:
        _, ax = plt.subplots(figsize=(PAGE_WIDTH, 0.32 * len(rows) + 1.2))
    colors = dict(zip((kind for kind, _ in PAGE_PARTS),
                      (COLORS["assumed"], COLORS["learned"], COLORS["true"], "0.75", COLORS["old"],
                       COLORS["phi"][2])))
    y = np.arange(len(rows))[::-1]
    left = np.zeros(len(rows))
    for kind, label in PAGE_PARTS:
        widths = np.array([row["by_kind"].get(kind, 0) for row in rows]) / 2**20
        if widths.any():
            ax.barh(y, widths, left=left, color=colors[kind], label=label, height=0.7)
            left += widths
    ax.set_yticks(y, [row["page"].removesuffix(".html") for row in rows], fontsize=8)
    ax.set_xlabel("MiB downloaded on a first visit")
    ax.legend(loc="lower right", fontsize=8)
    return ax


# ---------------------------------------------------------------------------
# Part III, chapter 10: the paper's optimizer
# ---------------------------------------------------------------------------


def plot_loss_bands(runs, ax=None, ylabel=r"$f(\theta_t)$"):
    """Loss against step, log scale: for each run its mean over functions (line) and quartiles (band).

    ``runs`` maps a label to (losses, color, linestyle), ``losses`` of shape (n, T+1), one row
    per function.
    """
    ax = ax or plt.subplots()[1]
    for label, (losses, color, style) in runs.items():
        losses = np.asarray(losses, dtype=float)
        t = np.arange(losses.shape[1])
        low, high = np.percentile(losses, [25, 75], axis=0)
        ax.fill_between(t, low, high, color=color, alpha=0.15, lw=0)
        ax.plot(t, losses.mean(axis=0), style, color=color, label=label, lw=1.8)
    ax.set_yscale("log")
    ax.set_xlabel("step $t$")
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize=9)
    return ax

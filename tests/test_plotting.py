"""The book's figures: one style, axes labelled with the book's symbols, sized for the page.

Each plotting function is drawn on small inputs; the checks read the finished
matplotlib figure (labels, sizes), not the code that made it.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from metaopt import PHI_OLD, meta_train, unroll  # noqa: E402
from metaopt import plotting  # noqa: E402

PROBLEM = dict(theta0=10.0, theta_star=5.0, steps=2)


def figures():
    """(name, figure) for every kind of figure, drawn with default sizes."""
    plotting.use_book_style()
    traj = unroll(PHI_OLD, **PROBLEM)
    yield "inner_loop", plotting.plot_inner_loop(traj, 5.0).figure
    yield "unrolled_graph", plotting.plot_unrolled_graph(steps=2).figure
    etas = np.linspace(0.0, 0.01, 11)
    yield "loss_along", plotting.plot_loss_along(etas, {r"$-\nabla_\phi L$": (etas ** 2, "C0")},
                                                 eta_marks=[(0.005, r"$\eta$")]).figure
    history = meta_train(PHI_OLD, eta=0.001, iterations=5, **PROBLEM)
    yield "meta_training", plotting.plot_meta_training(history)[0].figure
    yield "trajectories", plotting.plot_trajectories({r"$\phi_{old}$": (traj, "C1")}, 5.0, horizon=2).figure


FIGURES = list(figures())


@pytest.fixture(autouse=True, scope="module")
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("name, fig", FIGURES, ids=[name for name, _ in FIGURES])
def test_axes_labelled_with_the_books_symbols(name, fig):
    for ax in fig.axes:
        if not ax.axison:
            continue  # a diagram (the unrolled graph) has no axes to label
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            assert label.strip(), f"{name}: an axis without a label"
            assert "$" in label, f"{name}: axis label {label!r} does not use the book's symbols (math text)"


# The unrolled graph's width grows with the number of steps (chapter 3 sets it); the browser
# test checks how it is shown.
PLOTS = [(name, fig) for name, fig in FIGURES if name != "unrolled_graph"]


@pytest.mark.parametrize("name, fig", PLOTS, ids=[name for name, _ in PLOTS])
def test_default_size_fits_the_page(name, fig):
    """At its default size a figure is shown unscaled in the content column (see tests/test_browser.py)."""
    width = fig.get_size_inches()[0]
    assert width <= plotting.PAGE_WIDTH + 1e-9, f"{name}: {width} in wider than the page ({plotting.PAGE_WIDTH} in)"


def test_one_style_for_every_figure():
    plotting.use_book_style()
    assert matplotlib.rcParams["savefig.dpi"] == 100 and matplotlib.rcParams["font.size"] == 11
    # The page width is what the browser test measures: 100 dpi x PAGE_WIDTH px fit the ~690 px column.
    assert plotting.PAGE_WIDTH * matplotlib.rcParams["savefig.dpi"] <= 690


def test_every_plot_function_returns_its_axes():
    """Every plot function returns what it drew on (plot_training_curves used to return None)."""
    plotting.use_book_style()
    history = meta_train(PHI_OLD, eta=0.001, iterations=5, **PROBLEM)
    fig, ax = plt.subplots()
    assert plotting.plot_training_curves({"SGD": (history, "C0", "-")}, ax=ax) is ax
    assert plotting.plot_training_curves({"SGD": (history, "C0", "-")}) is not None
    fig, ax = plt.subplots()
    x = np.array([1.0, 2.0, 3.0])
    assert plotting.plot_log_curves(x, {"a": (x**2, "C0")}, r"$T$", r"$\|g\|$", ax=ax) is ax
    fig, ax = plt.subplots()
    traj = unroll(PHI_OLD, **PROBLEM)
    assert plotting.plot_inner_loop(traj, 5.0, ax=ax) is ax


def test_colors_are_defined_from_the_start():
    for role in ("theta", "old", "true", "assumed", "learned", "gd", "phi", "unstable", "momentum", "adam"):
        assert role in plotting.COLORS, role
    assert len(plotting.COLORS["phi"]) == 3

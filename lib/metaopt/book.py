r"""Helpers that turn the library's numbers into what the book displays.

Stored notebook outputs are compared as text by nbval, so everything shown
here is formatted at a fixed precision: no ``np.float64(...)`` reprs, no
last-digit noise.
"""

from __future__ import annotations

import html

import numpy as np
import sympy as sp

__all__ = ["num", "glue_number", "glue_vector", "glue_text", "glue_latex", "step_walk", "Table", "trajectory_table"]


def num(x, digits: int = 10) -> str:
    """``x`` rounded to ``digits`` significant digits, shown the way the document shows numbers.

    >>> num(7.290000000000001), num(9), num(-1.3)
    ('7.29', '9.0', '-1.3')
    """
    return repr(float(f"{float(x):.{digits}g}") + 0.0)  # + 0.0 turns -0.0 into 0.0


def _book_extra(module: str):
    """Import ``module`` (myst_nb or IPython.display), or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f'metaopt.book\'s glue helpers need {module}: pip install "metaopt[book]"') from err


def _glue(name, value):
    glue = _book_extra("myst_nb").glue  # imported here: only the notebooks need myst_nb
    glue(name, value, display=False)


def glue_image(name: str, png: bytes) -> None:
    """Glue a PNG of twice its pixels ("retina") under ``name``, not shown where it is made."""
    Image = _book_extra("IPython.display").Image
    _glue(name, Image(data=png, format="png", retina=True))


def glue_number(name: str, value, digits: int = 12) -> float:
    """Glue a number for the prose (``{glue:text}`name:.2f```) as a plain rounded float; return it."""
    value = float(num(value, digits))
    _glue(name, value)
    return value


def glue_vector(name: str, values, digits: int = 10) -> str:
    """Glue a vector as text, e.g. ``(-113.4, -5.4, 11.34)``, for ``{glue:}`name```."""
    text = "(" + ", ".join(num(v, digits) for v in np.asarray(values, dtype=float).ravel()) + ")"
    _glue(name, _Text(text))
    return text


def glue_text(name: str, text: str) -> str:
    """Glue a word or phrase computed from the data (``{glue:}`name```), shown without quotes."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    _glue(name, _Text(text))
    return text


def glue_latex(name: str, expr) -> str:
    """Glue a sympy expression (or a LaTeX string) as math, for ``{glue}`name```."""
    Math = _book_extra("IPython.display").Math

    latex = expr if isinstance(expr, str) else sp.latex(expr)
    _glue(name, Math(latex))
    return latex


class _Text:
    """A value whose only representation is the given text (no quotes, unlike a str)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def step_walk(traj, phi, t: int, theta_star) -> str:
    """LaTeX for inner step ``t`` walked the way the document walks it, with the library's values.

    Returns an ``aligned`` block: the gradient, the hidden state, the update and the new theta.
    """
    p1, p2, p3 = (num(v) for v in phi)
    theta, grad, h, g = (np.asarray(a, dtype=float) for a in traj)
    h_prev = num(h[t - 1]) if t > 0 else "0"
    lines = [
        rf"\nabla_{t} &= 2(\theta_{t} - \theta^*) = 2({num(theta[t])} - {num(theta_star)}) = {num(grad[t])}",
        rf"h_{t} &= \phi_1 \nabla_{t} + \phi_2 h_{{{t - 1}}} = ({p1})({num(grad[t])}) + ({p2})({h_prev}) = {num(h[t])}",
        rf"g_{t} &= \phi_3 h_{t} = ({p3})({num(h[t])}) = {num(g[t])}",
        rf"\theta_{t + 1} &= \theta_{t} + g_{t} = {num(theta[t])} + ({num(g[t])}) = {num(theta[t + 1])}",
    ]
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


class Table:
    """A small table: HTML in the book, aligned text in a terminal.

    ``header`` is plain text (the terminal view); ``math_header``, if given,
    holds the same column titles in LaTeX, which the book typesets.
    """

    def __init__(self, header, rows, math_header=None):
        self.header = [str(h) for h in header]
        self.math_header = list(math_header) if math_header is not None else None
        self.rows = [[str(c) for c in r] for r in rows]

    def _repr_html_(self) -> str:
        if self.math_header:
            titles = [rf"\({h}\)" for h in self.math_header]
        else:
            titles = [html.escape(h) for h in self.header]
        head = "".join(f"<th>{h}</th>" for h in titles)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows
        )
        return (
            '<div class="mathjax_process"><table class="table metaopt-table">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        )

    def __repr__(self) -> str:
        cells = [self.header] + self.rows
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.header))]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells)


def trajectory_table(traj) -> Table:
    """The document's table of the inner loop: t, θ_t, ∇_t, h_t, g_t, θ_{t+1}."""
    theta, grad, h, g = (np.asarray(a, dtype=float) for a in traj)
    rows = [[t, num(theta[t]), num(grad[t]), num(h[t]), num(g[t]), num(theta[t + 1])] for t in range(len(grad))]
    return Table(
        ["t", "theta_t", "grad_t", "h_t", "g_t", "theta_t+1"], rows,
        math_header=["t", r"\theta_t", r"\nabla_t", "h_t", "g_t", r"\theta_{t+1}"],
    )

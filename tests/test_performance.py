"""The pieces behind the speed-ups and the benchmarks, checked (no timings here: those are
``make bench``'s job, and a timed unit test on a shared machine would be noise).

* ``symbolic._as_expr`` builds sympy expressions directly in canonical form; it must give
  exactly what sympy's own ``as_expr`` gives, on polynomials nobody chose by hand.
* The fast closed form equals the naive one (``sympy.expand`` after every step) term for term.
* The scalar fast path of ``core`` and the batch path give the same bits.
* ``benchmarks/run.py --quick`` runs, ``benchmarks/results.json`` holds what the
  appendix reads, and the benchmark's peers (``benchmarks/peers.py``) compute the right
  meta-gradient.
"""

import importlib.util
import json
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from sympy.polys.domains import QQ, ZZ
from sympy.polys.rings import ring

import metaopt
from metaopt import symbolic
from metaopt.symbolic import _as_expr

ROOT = Path(__file__).resolve().parent.parent


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_poly(domain, seed):
    rnd = random.Random(seed)
    R, *gens = ring(symbolic.PHI, domain)
    poly = R.zero
    for _ in range(rnd.randint(0, 25)):
        coeff = rnd.choice([1, -1, 2, -7, 10**30 + 1, rnd.randint(-1000, 1000)])
        if domain == QQ:
            coeff = QQ(coeff, rnd.choice([1, 2, 3, 10**20]))
        exps = [rnd.choice([0, 0, 1, 2, rnd.randint(3, 40)]) for _ in range(3)]
        poly += R.ground_new(coeff) * gens[0] ** exps[0] * gens[1] ** exps[1] * gens[2] ** exps[2]
    return poly


@pytest.mark.parametrize("domain", [ZZ, QQ], ids=["ZZ", "QQ"])
@pytest.mark.parametrize("seed", range(40))
def test_as_expr_is_sympys_own_conversion(domain, seed):
    poly = random_poly(domain, seed)
    expected = poly.as_expr()
    got = _as_expr(poly)
    assert got == expected  # structural equality: same tree, same argument order
    assert sp.srepr(got) == sp.srepr(expected)
    assert hash(got) == hash(expected)
    # the flags too: every product is commutative, as in sympy's own (real symbols commute)
    assert [t.is_commutative for t in sp.preorder_traversal(got)] == \
        [t.is_commutative for t in sp.preorder_traversal(expected)]


@pytest.mark.parametrize("poly", ["zero", "one", "minus_one", "phi2", "minus_phi1_phi3"])
def test_as_expr_corner_cases(poly):
    R, p1, p2, p3 = ring(symbolic.PHI, ZZ)
    value = {"zero": R.zero, "one": R.one, "minus_one": -R.one, "phi2": p2, "minus_phi1_phi3": -p1 * p3}[poly]
    assert sp.srepr(_as_expr(value)) == sp.srepr(value.as_expr())


def test_as_expr_builds_exact_numbers_itself(monkeypatch):
    """For integer and rational coefficients the fast construction runs, not sympy's conversion
    (the point of _as_expr: the results above would agree even if it always fell back)."""
    from sympy.polys.rings import PolyElement

    def refuse(self):
        raise AssertionError("the fast path fell back to PolyElement.as_expr")

    polys = [random_poly(domain, seed) for domain in (ZZ, QQ) for seed in range(5)]
    expected = [p.as_expr() for p in polys]
    monkeypatch.setattr(PolyElement, "as_expr", refuse)
    assert [_as_expr(p) for p in polys] == expected


def test_as_expr_of_symbolic_coefficients_is_sympys_own():
    """Coefficients that are expressions in another symbol: sympy's own conversion, the same tree."""
    theta0 = sp.Symbol("theta0")
    R, p1, p2, p3 = ring(symbolic.PHI, ZZ[theta0])
    coeff = lambda e: R.ground_new(R.domain.from_sympy(e))  # noqa: E731
    poly = coeff(2 * theta0 + 3) * p1**2 * p2 + coeff(theta0) * p3 + 1
    assert _as_expr(poly) == poly.as_expr()


def test_as_expr_other_domains_fall_back():
    theta0 = sp.Symbol("theta0")
    L, dL = symbolic.meta_gradient(steps=2, theta0=theta0, theta_star=5)
    naive_L, _ = load_bench().naive_meta_gradient(2, theta0=theta0)
    assert sp.expand(L - naive_L) == 0
    assert L.free_symbols == {*symbolic.PHI, theta0}


@pytest.mark.parametrize("steps", range(0, 7))
def test_closed_form_equals_naive_expand(steps):
    """The ring arithmetic against sympy's expand of the unrolled loop, term for term."""
    theta0, theta_star = Fraction(21, 2), Fraction(-3, 7)
    L, dL = symbolic.meta_gradient(steps=steps, theta0=theta0, theta_star=theta_star)
    naive_L, naive_dL = load_bench().naive_meta_gradient(steps, theta0, theta_star)
    assert L == naive_L  # both canonical expanded sums: structurally identical
    assert dL == naive_dL


def test_scalar_fast_path_is_plain_floats():
    """One phi runs on Python floats; the result types are the documented ones."""
    loss, grad = metaopt.meta_gradient()
    assert type(loss) is float
    assert isinstance(grad, np.ndarray) and grad.shape == (3,) and grad.dtype == float
    assert type(metaopt.meta_loss()) is float
    rows = metaopt.backprop_trace()
    assert all(type(row["h_bar"]) is float for row in rows)


def test_bench_quick_runs_and_writes_what_the_appendix_reads(tmp_path):
    out = tmp_path / "results.json"
    assert load_bench().main(["--quick", "--out", str(out)]) == 0
    fresh = json.loads(out.read_text())
    stored = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    for results in (fresh, stored):
        assert {"date", "command", "machine", "gradient", "batching", "closed_form", "book",
                "single", "batch_jax", "pages"} <= set(results)
        assert {"cores", "python", "numpy", "sympy"} <= set(results["machine"])
        assert results["gradient"]["ratio"] > 0 and results["batching"]["speedup"] > 0
        assert len(results["closed_form"]["new"]["T"]) == len(results["closed_form"]["new"]["seconds"])
        for row in results["single"]["rows"]:
            assert row["vs_floor"] == pytest.approx(row["metaopt_s"] / row["floor_s"])
            assert row["vs_jax"] == pytest.approx(row["metaopt_s"] / row["jax_s"])
        for row in results["batch_jax"]["rows"]:
            assert row["vs_jax"] == pytest.approx(row["metaopt_s"] / row["jax_s"])
    assert stored["gradient"]["steps"] == 100_000 and stored["batching"]["n"] == 4096
    assert stored["closed_form"]["new_T"] == 40 and stored["closed_form"]["naive_T"] == 20
    assert [row["steps"] for row in stored["single"]["rows"]] == [10, 100_000]
    assert stored["batch_jax"]["n"] == 4096 and [row["steps"] for row in stored["batch_jax"]["rows"]] == [100, 1000]
    # the stored page measurements cover every page of the book's table of contents
    measured = {row["page"] for row in stored["pages"]["rows"]}
    sources = {p.relative_to(ROOT).with_suffix(".html").as_posix()
               for folder in ("chapters", "appendix") for p in (ROOT / folder).glob("*.ipynb")}
    assert sources | {"intro.html", "glossary.html", "references.html"} <= measured
    for row in stored["pages"]["rows"]:
        assert row["bytes"] == sum(row["by_kind"].values()) and 0 < row["gzip_bytes"] < row["bytes"]


def test_bench_peers_compute_the_meta_gradient():
    """The benchmark's peers are written independently of metaopt: they must agree with the exact
    reference (a wrong fast peer would make every comparison meaningless)."""
    import reference as ref

    spec = importlib.util.spec_from_file_location("bench_peers", ROOT / "benchmarks" / "peers.py")
    peers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peers)
    rng = np.random.default_rng(3)
    for _ in range(8):
        phi = (rng.uniform(0, 0.4), rng.uniform(-0.5, 0.5), rng.uniform(-1, 0))
        theta0, theta_star, steps = float(rng.normal(0, 5)), float(rng.normal()), int(rng.integers(0, 12))
        exact = ref.forward(phi, theta0, theta_star, steps)
        tol = 1e-10 * (1 + (theta0 - theta_star) ** 2)  # rounding, relative to the problem's scale
        loss, grad = peers.floor(*phi, theta0, theta_star, steps)
        ref.assert_close_exact(grad, exact.dloss, 1e-10, tol, "floor grad")
        assert loss == pytest.approx(float(exact.loss), rel=1e-10, abs=tol)
        jax_loss, jax_grad = peers.jax_single(steps)(peers.to_device(np.array(phi)), theta0, theta_star)
        ref.assert_close_exact(np.asarray(jax_grad), exact.dloss, 1e-10, tol, "jax grad")
        forward = peers.jax_forward(steps)(peers.to_device(np.array(phi)), theta0, theta_star)
        ref.assert_close_exact(np.asarray(forward), exact.dloss, 1e-10, tol, "jax forward grad")
    phis = np.array([[0.1, 0.5, -1.0], [0.2, -0.1, -0.5]])
    losses, grads = peers.jax_batch(7)(peers.to_device(phis), 10.0, 5.0)
    for k in range(2):
        exact = ref.forward(tuple(phis[k]), 10.0, 5.0, 7)
        ref.assert_close_exact(np.asarray(grads[k]), exact.dloss, 1e-10, 1e-9, "jax batch grad")


# --- core's fast path: which inputs take it, and that they do --------------------------------------

FAST = [((0.1, 0.5, -1.0), 10.0, 5.0, 2), ([0.1, 0.5, -1.0], 10.0, 5.0, 0),
        (np.array([0.1, 0.5, -1.0]), -3.5, 2.0, 7), ((1e-300, -0.0, 3.0), 0.0, -1e100, 1)]


@pytest.mark.parametrize("k", range(len(FAST)))
def test_plain_finite_floats_take_the_fast_path(k, monkeypatch):
    """Plain floats, a list or a float64 array of 3, and steps from 0 to MAX_STEPS: no numpy checks
    (_check_inputs refuses to run here) and the same numbers as the full path."""
    from metaopt import core
    phi, theta0, theta_star, steps = FAST[k]
    expected = metaopt.meta_gradient(np.array(phi, dtype=float), theta0=np.float64(theta0),
                                     theta_star=np.float64(theta_star), steps=steps)  # numpy scalars: the full path
    assert core._plain_floats(phi, theta0, theta_star, steps) == tuple(float(p) for p in phi)
    assert core._plain_floats(phi, theta0, theta_star, core.MAX_STEPS) is not None

    def refuse(*args, **kwargs):
        raise AssertionError("plain floats went through _check_inputs")

    monkeypatch.setattr(core, "_check_inputs", refuse)
    loss, grad = metaopt.meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
    assert loss == expected.loss and grad.tolist() == expected.grad.tolist()


def _not_plain():
    good = dict(phi=(0.1, 0.5, -1.0), theta0=10.0, theta_star=5.0, steps=2)
    from metaopt import core
    for name, bad in [("steps", True), ("steps", -1), ("steps", core.MAX_STEPS + 1), ("steps", 2.0),
                      ("steps", np.int64(2)), ("theta0", 10), ("theta0", np.float64(10)), ("theta0", float("inf")),
                      ("theta_star", 5), ("theta_star", np.float64(5)), ("theta_star", float("nan")),
                      ("phi", (0.1, 0.5)), ("phi", (0.1, 0.5, -1.0, 0.0)), ("phi", np.array([0.1, 0.5, -1.0], "f4")),
                      ("phi", np.array([[0.1, 0.5, -1.0]])), ("phi", np.array([1, 2, 3])), ("phi", {0.1, 0.5, -1.0}),
                      ("phi", (np.float64(0.1), 0.5, -1.0)), ("phi", "abc")]:
        yield dict(good, **{name: bad})
    for i in range(3):
        for value in (1, float("nan"), float("-inf"), np.float64(0.5)):
            phi = [0.1, 0.5, -1.0]
            phi[i] = value
            yield dict(good, phi=tuple(phi))
            yield dict(good, phi=phi)


@pytest.mark.parametrize("k", range(len(list(_not_plain()))))
def test_anything_else_takes_the_full_path(k):
    """ints, numpy scalars, a non-finite value, a wrong length, a batch, a bool count: not plain
    floats, so _check_inputs sees them (and names what is wrong, or converts what is fine)."""
    from metaopt import core
    args = list(_not_plain())[k]
    assert core._plain_floats(args["phi"], args["theta0"], args["theta_star"], args["steps"]) is None


def test_the_workspace_is_reused_up_to_its_limit():
    """A batch's scratch memory is this thread's one buffer, reused by a request of any size up to
    what it holds (equal included); past the limit each request gets fresh memory."""
    from metaopt import core
    limit = core._WORKSPACE_LIMIT
    assert limit * 8 == 64 * 2**20  # the 64 MiB its docstring states
    first = core._workspace(limit)  # the largest kept: the buffer holds exactly limit values now
    assert first.size == limit and np.shares_memory(first, core._workspace(limit))
    assert np.shares_memory(first, core._workspace(10)) and core._workspace(10).size == 10
    big = core._workspace(limit + 1)
    assert big.size == limit + 1 and not np.shares_memory(big, core._workspace(limit + 1))
    assert not np.shares_memory(big, first)

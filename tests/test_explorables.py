"""The explorables (booktools.explorables): figures the reader moves, computed in the page.

Two kinds of check, neither trusting the page's own code:

- **The arithmetic.** ``explorable_math.js`` is run in headless Chromium on random inputs and
  compared with the exact reference (``tests/reference.py``, rational arithmetic, forward
  mode: it shares no code with the page's reverse sweep), with sympy's exact intervals
  (``symbolic.helpful_intervals``), and with numpy's eigenvalues of the transition matrix
  built here.
- **The pages.** Each explorable in the built book is operated like a reader would: every
  slider and select is moved to random positions (and by the keyboard), the map's point is
  dragged and clicked, and every number the page then displays is compared with ``metaopt``
  at the same inputs. The explorables must make no request to another host and log no console
  error; every control has a label and is reached by Tab; each box fits a 400 px screen; in
  print and without JavaScript the explorable is hidden and the static figure shows.

The page checks are also run on deliberately broken copies of the site (listed in the README), where they must fail; the drag, the click and the arrow keys have no broken copy.
"""

from __future__ import annotations

import functools
import os
import random
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import reference
from booktools.browser import Server, block_other_hosts, launch
from metaopt import ASSUMED_GRADIENT, ETA, ETA_TRAIN, PHI_OLD, STEPS, THETA0, THETA_STAR, dynamics, meta_gradient
from metaopt import meta_loss
from metaopt import meta_step, meta_train, symbolic, unroll
from metaopt.validate import DivergenceError
from booktools import edition, i18n
from test_browser import SETTLED, ensure_site, require_browser

ROOT = Path(__file__).resolve().parent.parent
MATH_JS = ROOT / "lib" / "booktools" / "static" / "explorable_math.js"
ENGLISH_PAGES = {
    "chapters/02_inner_loop.html": "worked-example",
    "chapters/03_outer_loop.html": "worked-example",
    "chapters/05_momentum.html": "convergence-map",
    "chapters/06_meta_step_size.html": "meta-training",
}
#: Every explorable page, in the English edition and in each translated one (under ko/).
PAGES = {**ENGLISH_PAGES, **{f"{edition.edition_prefix(language)}{rel}": kind for language in i18n.LANGUAGES
                             for rel, kind in ENGLISH_PAGES.items()}}


@functools.lru_cache(maxsize=None)
def _interface(language: str) -> dict:
    return i18n.translations(language=language)


def say(language: str, english: str, **values) -> str:
    """What the page of an edition shows for one of the explorables' words (the test reads the
    catalog itself; the page gets its words from the build)."""
    text = english if language == "en" else _interface(language).get(english, english)
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text
NARROW = {"width": 400, "height": 900}
#: The readouts show 6 significant digits: a shown number is within half a unit of its last
#: digit, 5e-6 relative at most.
SHOWN = 5.01e-6
#: Random settings per explorable page.
SETTINGS = 4


# --- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def math(context):
    """A blank page with explorable_math.js loaded: ``math(js_expression_of_cases, cases)``."""
    page = context.new_page()
    page.set_content("<!doctype html><title>math</title>")
    page.add_script_tag(path=str(MATH_JS))

    def run(body: str, cases):
        return page.evaluate(f"(cases) => cases.map((c) => {body})", cases)

    yield run
    page.close()


@pytest.fixture(scope="module")
def site():
    return ensure_site()


@pytest.fixture(scope="module")
def server(site):
    with Server(site) as s:
        yield s


# --- the arithmetic, against the exact reference ---------------------------------------------

def test_inner_loop_and_meta_gradient_match_the_exact_reference(math):
    cases = reference.random_cases(300, seed=13, max_steps=12)
    got = math("MetaoptMath.metaGradient(c[0], c[1], c[2], c[3])", cases)
    trajectories = math("MetaoptMath.unroll(c[0], c[1], c[2], c[3]).theta", cases)
    for (phi, theta0, theta_star, steps), run, theta in zip(cases, got, trajectories):
        exact = reference.forward(phi, theta0, theta_star, steps)
        scale = reference.float_scale(exact)
        what = f"phi={phi}, theta0={theta0}, theta*={theta_star}, T={steps}"
        reference.assert_close_exact(theta, exact.theta, rel=1e-12, atol=1e-13 * np.sqrt(scale), what="theta " + what)
        reference.assert_close_exact(run["loss"], exact.loss, rel=1e-9, atol=1e-12 * scale, what="loss " + what)
        reference.assert_close_exact(run["grad"], exact.dloss, rel=1e-9, atol=1e-12 * scale, what="grad " + what)


def test_the_intervals_ends_are_exact_roots(math):
    """Every end the page finds (not 0, not the edge of the range) is a root of L(phi - eta d) - L(phi):
    the exact loss changes sign within 1e-9 relative of it. Random phi, directions and ranges."""
    rng = np.random.default_rng(7)
    cases = []
    for _ in range(60):
        phi = [float(rng.uniform(-1, 1)), float(rng.uniform(-0.9, 0.9)), float(rng.uniform(-1.5, 1.5))]
        steps = int(rng.integers(1, 6))
        direction = [float(x) for x in rng.normal(0, 20, 3)]
        cases.append([phi, direction, float(rng.uniform(-5, 15)), THETA_STAR, steps, float(rng.uniform(0.01, 0.5))])
    found = math("MetaoptMath.helpfulIntervals(c[0], c[1], c[2], c[3], c[4], c[5])", cases)
    ends = 0
    for (phi, d, theta0, theta_star, steps, top), intervals in zip(cases, found):
        start = reference.loss(phi, theta0, theta_star, steps, number=Fraction)

        def below(eta):
            moved = [Fraction(p) - eta * Fraction(di) for p, di in zip(phi, d)]
            return reference.loss(moved, theta0, theta_star, steps, number=Fraction) < start

        for i in intervals:
            for end, inside in ((i["low"], 1), (i["high"], -1)):
                if end == 0 or (i["open"] and end == i["high"]):
                    continue
                near, far = Fraction(end) * (1 - Fraction(1, 10**9)), Fraction(end) * (1 + Fraction(1, 10**9))
                before, after = (near, far) if inside == 1 else (far, near)
                assert below(after) and not below(before), (phi, d, theta0, steps, top, i)
                ends += 1
    assert ends > 50, ends  # the cases above have many interval ends to check


@pytest.mark.parametrize("seed", range(4))
def test_the_intervals_match_sympys_exact_ones(math, seed):
    """The page's intervals against symbolic.helpful_intervals, exact, for the document's case and
    random ones: every exact interval wider than two sample steps is found, nothing else is."""
    rng = random.Random(seed)
    if seed == 0:
        phi, theta0, steps, top = [0.1, 0.5, -1.0], 10.0, 2, 0.14
        directions = [list(ASSUMED_GRADIENT), [-113.4, -5.4, 11.34]]
    else:
        phi = [round(rng.uniform(-1, 1), 2), round(rng.uniform(-1, 1), 2), round(rng.uniform(-2, 2), 2)]
        theta0, steps, top = rng.choice([-4.5, 2.0, 10.0, 17.5]), rng.choice([1, 2, 3]), rng.choice([0.012, 0.14])
        directions = [list(ASSUMED_GRADIENT), [float(g) for g in meta_gradient(
            phi, theta0=theta0, theta_star=THETA_STAR, steps=steps).grad]]
    samples = 2000
    cases = [[phi, d, theta0, THETA_STAR, steps, top, samples] for d in directions]
    found = math("MetaoptMath.helpfulIntervals(...c)", cases)
    for d, intervals in zip(directions, found):
        exact = symbolic.helpful_intervals(phi, direction=d, theta0=theta0, theta_star=THETA_STAR, steps=steps)
        expected = [(float(i.low), min(float(i.high), top), float(i.high) > top) for i in exact if float(i.low) < top]
        problems = interval_problems([(i["low"], i["high"], i["open"]) for i in intervals], expected, top, samples,
                                     tolerance=1e-9)
        assert not problems, (phi, d, theta0, steps, top, problems)


def test_meta_training_matches_steps_along_the_exact_gradient(math):
    """metaTrain against this test's own outer loop: phi <- phi - eta * (the exact gradient, rounded)."""
    rng = np.random.default_rng(11)
    cases = [[[0.1, 0.5, -1.0], 0.001, 25, 10.0, 5.0, 2]] + [
        [[float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-1.2, -0.2))],
         float(rng.uniform(1e-4, 3e-3)), 25, float(rng.uniform(0, 15)), 5.0, int(rng.integers(1, 5))]
        for _ in range(8)]
    got = math("MetaoptMath.metaTrain(c[0], c[1], c[2], c[3], c[4], c[5])", cases)
    for (phi, eta, iterations, theta0, theta_star, steps), run in zip(cases, got):
        assert run["diverged"] is None and len(run["phi"]) == iterations + 1
        current = list(phi)
        for k in range(iterations + 1):
            np.testing.assert_allclose(run["phi"][k], current, rtol=1e-9, atol=1e-12, err_msg=f"{phi}, {eta}, k={k}")
            exact = reference.forward(current, theta0, theta_star, steps)
            np.testing.assert_allclose(run["loss"][k], float(exact.loss), rtol=1e-8, atol=1e-12)
            current = [p - eta * float(d) for p, d in zip(current, exact.dloss)]


def test_meta_training_diverges_where_meta_train_does(math):
    """The iteration at which the page's meta-training stops is the one meta_train's DivergenceError names."""
    etas = [0.006, 0.0075, 0.0091, 0.01, 0.012]
    got = math("MetaoptMath.metaTrain(c[0], c[1], c[2], c[3], c[4], c[5]).diverged",
               [[list(PHI_OLD), eta, 300, THETA0, THETA_STAR, STEPS] for eta in etas])
    for eta, k in zip(etas, got):
        with pytest.raises(DivergenceError, match=rf"diverged at iteration {k} "):
            meta_train(PHI_OLD, eta=eta, iterations=300, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS)


def test_eigenvalues_and_spectral_radius_match_numpy(math):
    rng = np.random.default_rng(3)
    cases = [[float(a), float(b)] for a, b in zip(rng.uniform(-0.5, 2.5, 400), rng.uniform(-1.2, 1.2, 400))]
    eig = math("MetaoptMath.eigenvalues(c[0], c[1])", cases)
    rho = math("MetaoptMath.spectralRadius(c[0], c[1])", cases)
    for (a, b), lam, r in zip(cases, eig, rho):
        # the error e_t = theta_t - theta* and the last step g_{t-1} on L = (theta - theta*)^2
        m = np.array([[1 - 2 * a, b], [-2 * a, b]])
        expected = np.linalg.eigvals(m)
        got = np.array([complex(z["re"], z["im"]) for z in lam])
        expected = expected[np.argsort(-np.abs(expected), kind="stable")]  # the larger modulus first
        if abs(abs(expected[0]) - abs(expected[1])) > 1e-9:  # a complex pair, or equal moduli: either order
            assert np.allclose(got, expected, rtol=1e-7, atol=1e-7), (a, b, got, expected)
        assert np.allclose(np.sort_complex(got), np.sort_complex(expected), rtol=1e-7, atol=1e-7), (a, b, got, expected)
        assert abs(r - np.max(np.abs(expected))) <= 1e-7, (a, b)


def test_zero_loss_curve_zeroes_the_exact_meta_loss(math):
    alphas = [float(a) for a in np.linspace(0.05, 2.2, 50)]
    betas = math("MetaoptMath.zeroLossBeta(c)", alphas)
    for a, b in zip(alphas, betas):
        assert reference.loss([a, b, -1.0], 10.0, THETA_STAR, 2) < Fraction(1, 10**20), (a, b)
    # and a point off the curve does not
    assert reference.loss([0.3, betas[10] + 0.1, -1.0], 10.0, THETA_STAR, 2) > Fraction(1, 10**3)


# --- comparing what a page shows with metaopt ----------------------------------------------

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def numbers(text: str) -> list[float]:
    return [float(x) for x in NUMBER.findall(text.replace("\u2212", "-"))]


def close(shown: float, expected: float, atol: float = 0.0, rel: float = SHOWN) -> bool:
    return abs(shown - expected) <= rel * abs(expected) + atol


def interval_problems(shown, expected, top, samples, tolerance=SHOWN):
    """``shown`` and ``expected``: lists of (low, high, open). Every expected interval wider than two
    sample steps must be shown, and every shown interval must be an expected one."""
    problems, step = [], top / samples
    unmatched = list(shown)
    for low, high, is_open in expected:
        match = next((s for s in unmatched if close(s[0], low, 1e-9 * top, tolerance)
                      and close(s[1], high, 1e-9 * top, tolerance) and s[2] == is_open), None)
        if match:
            unmatched.remove(match)
        elif high - low > 2 * step:
            problems.append(f"the exact interval ({low:.9g}, {high:.9g}) is not shown")
    problems += [f"shown interval ({s[0]:.9g}, {s[1]:.9g}) is not an exact one" for s in unmatched]
    return problems


def parse_intervals(text: str, language: str = "en"):
    if text.startswith(say(language, "none in view")):
        return []
    out = []
    for part in text.split("\u222a"):
        low, high = numbers(part)
        out.append((low, high, "+" in part))
    return out


STATE = """(root) => {
  const controls = {}, limits = {}, shown = {};
  root.querySelectorAll('[data-control]').forEach((c) => {
    controls[c.dataset.control] = c.value;
    limits[c.dataset.control] = {min: c.min, max: c.max, step: c.step};
  });
  root.querySelectorAll('[data-quantity]').forEach((q) => { shown[q.dataset.quantity] = q.textContent; });
  return {controls, limits, shown, language: document.documentElement.lang};
}"""


def try_value(f):
    try:
        value = f()
    except DivergenceError:
        return None
    return value if np.all(np.isfinite(value)) else None


def compare(shown: dict, expected: dict, atol: dict, language: str = "en") -> list[str]:
    problems = []
    for quantity, values in expected.items():
        text = shown.get(quantity)
        if text is None:
            problems.append(f"{quantity}: not shown")
        elif values is None:
            if say(language, "overflow") not in text:
                problems.append(f"{quantity}: metaopt overflows, the page shows {text!r}")
        else:
            values = np.atleast_1d(np.asarray(values, dtype=float))
            got = numbers(text)
            if len(got) != len(values) or not all(close(g, v, atol.get(quantity, 0.0)) for g, v in zip(got, values)):
                problems.append(f"{quantity}: the page shows {text!r}, metaopt gives {values.tolist()}")
    return problems


def worked_example_problems(state: dict) -> list[str]:
    c, shown = state["controls"], state["shown"]
    phi = [float(c["phi1"]), float(c["phi2"]), float(c["phi3"])]
    problem = dict(theta0=float(c["theta0"]), theta_star=THETA_STAR, steps=int(c["steps"]))
    theta = unroll(phi, **problem).theta
    scale = float(np.max(np.abs(theta))) + 1.0
    expected = {"theta": theta, "meta-loss": meta_loss(phi, **problem)}
    atol = {"theta": 1e-12 * scale, "meta-loss": 1e-10 * scale**2}
    problems = []
    if "eta" in c:
        eta = float(c["eta"])
        grad = meta_gradient(phi, **problem).grad
        phi_true = meta_step(phi, grad=grad, eta=eta)
        phi_assumed = meta_step(phi, grad=ASSUMED_GRADIENT, eta=eta)
        expected.update({
            "meta-gradient": grad, "phi-true": phi_true, "phi-assumed": phi_assumed,
            "loss-true": try_value(lambda: meta_loss(phi_true, **problem)),
            "loss-assumed": try_value(lambda: meta_loss(phi_assumed, **problem)),
        })
        big = float(np.max(np.abs(grad))) + 1.0
        atol.update({"meta-gradient": 1e-10 * scale**2, "phi-true": 1e-12 * big,
                     "loss-true": 1e-9 * scale**2 * big**2, "loss-assumed": 1e-9 * scale**2})
        top = float(state["limits"]["eta"]["max"])
        for quantity, d in (("helps-true", [float(g) for g in grad]), ("helps-assumed", list(ASSUMED_GRADIENT))):
            exact = symbolic.helpful_intervals(phi, direction=d, **problem)
            want = [(float(i.low), min(float(i.high), top), float(i.high) > top) for i in exact if float(i.low) < top]
            shown_intervals = parse_intervals(shown[quantity], state["language"])
            problems += [f"{quantity}: {p}" for p in interval_problems(shown_intervals, want, top, 2000)]
    return problems + compare(shown, expected, atol, state["language"])


def convergence_map_problems(state: dict) -> list[str]:
    c, shown = state["controls"], state["shown"]
    alpha, beta = float(c["alpha"]), float(c["beta"])
    phi = dynamics.phi_from_momentum(alpha, beta=beta)
    lam = dynamics.eigenvalues(phi)
    rho = dynamics.spectral_radius(phi)
    if np.all(lam.imag == 0):
        eig = list(lam.real)  # in metaopt's order, the larger modulus first
    else:
        eig = [lam[0].real, abs(lam[0].imag)]
    problems = compare(shown, {"phi": phi, "eigenvalues": eig, "rho": rho,
                               "meta-loss": meta_loss(phi, theta0=10.0, theta_star=THETA_STAR, steps=2)},
                       {"eigenvalues": 1e-9, "rho": 1e-9, "meta-loss": 1e-10 * 100}, state["language"])
    verdict = say(state["language"], "converges" if rho < 1 else "does not converge")
    if shown.get("converges") != verdict and abs(rho - 1) > 1e-9:
        problems.append(f"the page says {shown.get('converges')!r}, rho = {rho}")
    return problems


def meta_training_problems(state: dict) -> list[str]:
    c, shown = state["controls"], state["shown"]
    eta, iterations = float(c["eta"]), int(c["iterations"])
    try:
        run = meta_train(PHI_OLD, eta=eta, iterations=iterations, theta0=THETA0, theta_star=THETA_STAR, steps=STEPS)
    except DivergenceError as error:
        k = int(re.search(r"diverged at iteration (\d+)", str(error)).group(1))
        if shown.get("outcome") != say(state["language"], "diverged at meta-iteration {k}", k=k):
            return [f"eta = {eta}: metaopt diverges at iteration {k}, the page says {shown.get('outcome')!r}"]
        return []
    phi = run.phi[-1]
    finished = say(state["language"], "{n} meta-steps, every meta-loss finite", n=iterations)
    problems = [] if shown.get("outcome", "") == finished else [
        f"eta = {eta}: metaopt trains {iterations} meta-steps, the page says {shown.get('outcome')!r}"]
    m = dynamics.momentum_params(phi)
    return problems + compare(shown, {"phi": phi, "meta-loss": run.loss[-1], "momentum": [m.alpha, m.beta],
                                      "rho": dynamics.spectral_radius(phi)},
                              {"phi": 1e-9, "meta-loss": 1e-12, "momentum": 1e-9, "rho": 1e-9}, state["language"])


CHECK = {"worked-example": worked_example_problems, "convergence-map": convergence_map_problems,
         "meta-training": meta_training_problems}


# --- operating a page ------------------------------------------------------------------------

def stub_mathjax(page) -> None:
    """Answer the page's MathJax request with an empty script: the explorables do not need the
    formulas typeset, and typesetting a chapter costs seconds per visit (test_browser.py checks
    MathJax on every page)."""
    page.route("**/mathjax/**", lambda route: route.fulfill(body="", content_type="application/javascript"))


def open_explorables(context, server, rel):
    """Open ``rel``, wait until its explorables are built (or have failed); return the page and
    its listeners' record."""
    record = {"console": [], "blocked": []}
    page = context.new_page()
    page.on("console", lambda msg: msg.type == "error" and record["console"].append(msg.text))
    page.on("pageerror", lambda err: record["console"].append(f"uncaught: {err}"))
    block_other_hosts(page, server, record["blocked"])
    stub_mathjax(page)
    page.goto(server.url + rel)
    page.wait_for_load_state("load")
    # the theme scrolls smoothly; a test's mouse must not aim at a box that is still moving
    page.add_style_tag(content="html { scroll-behavior: auto !important; }")
    try:
        page.wait_for_selector("div.explorable[data-ready], div.explorable[data-failed]", state="attached",
                               timeout=10_000)
    except Exception:  # noqa: BLE001 - reported by the caller's checks
        record["console"].append("the explorable was never built")
    if page.locator("div.explorable[data-failed]").count():
        record["console"].append("the explorable failed: " + page.locator("div.explorable[data-failed]").first
                                 .get_attribute("data-failed"))
    return page, record


@pytest.fixture(scope="module")
def opened(context, server):
    """Each explorable page opened once, shared by the tests below (each sets the controls it reads)."""
    pages = {}

    def get(rel):
        if rel not in pages:
            pages[rel] = open_explorables(context, server, rel)
        page, record = pages[rel]
        page.set_viewport_size({"width": 1280, "height": 900})
        page.emulate_media(media="screen")
        return page, record

    yield get
    for page, _ in pages.values():
        page.close()


def set_control(page, root, name, value):
    """Move a control as a reader's drag does: set its value and fire the input event."""
    root.evaluate("""(root, [name, value]) => {
      const c = root.querySelector(`[data-control="${name}"]`);
      c.value = value;
      c.dispatchEvent(new Event('input', {bubbles: true}));
    }""", [name, value])


def random_position(rng, limits):
    low, high, step = (float(limits[k]) for k in ("min", "max", "step"))
    return round(low + step * rng.randint(0, round((high - low) / step)), 6)


def random_settings(rng, kind, limits):
    """Random slider positions; the worked example's T at most 3 where sympy checks the intervals."""
    settings = {name: random_position(rng, lim) for name, lim in limits.items() if name != "eta-range"}
    if kind == "worked-example" and "eta" in limits:
        settings["steps"] = rng.randint(1, 3)
    return settings


def page_problems(record) -> list[str]:
    return [f"console error: {m}" for m in record["console"]] + [f"request to another host: {u}" for u in record["blocked"]]


@pytest.mark.parametrize("rel", PAGES)
def test_every_number_shown_matches_metaopt(opened, rel):
    """Random positions of every control, then every readout against metaopt at those inputs."""
    page, record = opened(rel)
    page.locator("div.explorable .ex-reset").first.click()
    root = page.locator("div.explorable").first
    kind = PAGES[rel]
    rng = random.Random(rel)
    problems = [f"document's values: {p}" for p in CHECK[kind](root.evaluate(STATE))]
    for k in range(SETTINGS):
        if root.locator('[data-control="eta-range"]').count():
            root.locator('[data-control="eta-range"]').select_option(str(k % 2))
        for name, value in random_settings(rng, kind, root.evaluate(STATE)["limits"]).items():
            set_control(page, root, name, value)
        problems += [f"setting {k + 1}: {p}" for p in CHECK[kind](root.evaluate(STATE))]
    problems += reset_problems(root, kind)
    problems += page_problems(record)
    assert not problems, "\n".join(problems)


def defaults(kind: str, controls) -> dict:
    """What the reset button must bring back, from metaopt's constants (not from the page)."""
    if kind == "worked-example":
        values = {"phi1": PHI_OLD[0], "phi2": PHI_OLD[1], "phi3": PHI_OLD[2], "theta0": THETA0, "steps": STEPS}
        if "eta" in controls:
            values.update({"eta": ETA, "eta-range": 0})
        return values
    if kind == "convergence-map":
        m = dynamics.momentum_params(PHI_OLD)
        return {"alpha": m.alpha, "beta": m.beta, "steps": 20}
    return {"eta": ETA_TRAIN, "iterations": 300}


def reset_problems(root, kind) -> list[str]:
    """Press the reset button after the controls have moved: the defaults, and readouts that match them."""
    root.locator(".ex-reset").click()
    state = root.evaluate(STATE)
    want = defaults(kind, state["controls"])
    problems = [f"after reset, {name} is {state['controls'].get(name)}, not {value}" for name, value in want.items()
                if not (name in state["controls"] and abs(float(state["controls"][name]) - value) < 1e-12)]
    return problems + [f"after reset: {p}" for p in CHECK[kind](state)]


#: Controls that change only a plot, no readout.
PLOT_ONLY = {"convergence-map": {"steps"}}


def keyboard_problems(page, root, kind) -> list[str]:
    """Tab reaches every control in turn; an arrow key moves a slider one step and the readouts follow."""
    problems = []
    names = root.evaluate("(root) => Array.from(root.querySelectorAll('[data-control]')).map((c) => c.dataset.control)")
    root.locator(".ex-title").click()
    reached = []
    for _ in range(len(names) + 2):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement && document.activeElement.dataset.control || null")
        if focused:
            reached.append(focused)
    missing = [n for n in names if n not in reached]
    if missing:
        problems.append(f"Tab does not reach {missing}")
    for name in names:
        control = root.locator(f'[data-control="{name}"]')
        if control.evaluate("(c) => c.type") != "range":
            continue
        control.focus()
        page.keyboard.press("Home")
        before = root.evaluate(STATE)
        page.keyboard.press("ArrowRight")
        after = root.evaluate(STATE)
        step = float(before["limits"][name]["step"])
        if not close(float(after["controls"][name]) - float(before["controls"][name]), step, 1e-9):
            problems.append(f"ArrowRight moves {name} from {before['controls'][name]} to {after['controls'][name]}")
        elif after["shown"] == before["shown"] and name not in PLOT_ONLY.get(kind, ()):
            problems.append(f"moving {name} by the keyboard changes no readout")
    return problems


def label_problems(root) -> list[str]:
    return root.evaluate("""(root) => Array.from(root.querySelectorAll('[data-control]')).filter((c) => {
      const label = c.id && root.querySelector(`label[for="${c.id}"]`);
      return !(label && label.textContent.trim());
    }).map((c) => `control ${c.dataset.control} has no label`)""")


@pytest.mark.parametrize("rel", PAGES)
def test_controls_are_labelled_and_work_by_keyboard(opened, rel):
    page, record = opened(rel)
    root = page.locator("div.explorable").first
    problems = label_problems(root) + keyboard_problems(page, root, PAGES[rel]) + page_problems(record)
    problems += [f"after the keyboard: {p}" for p in CHECK[PAGES[rel]](root.evaluate(STATE))]
    assert not problems, "\n".join(problems)


def test_the_map_point_drags_and_clicks(opened):
    page, record = opened("chapters/05_momentum.html")
    root = page.locator("div.explorable").first
    root.locator(".ex-reset").click()
    circle = root.locator(".shapelayer path").first
    circle.scroll_into_view_if_needed()
    start = root.evaluate(STATE)["controls"]
    box = circle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 70, y + 35, steps=8)
    page.mouse.up()
    dragged = root.evaluate(STATE)
    problems = []
    if float(dragged["controls"]["alpha"]) <= float(start["alpha"]) or float(dragged["controls"]["beta"]) >= float(start["beta"]):
        problems.append(f"dragging right and down moved (alpha, beta) from {start} to {dragged['controls']}")
    problems += [f"after the drag: {p}" for p in convergence_map_problems(dragged)]
    # a click on the map, at the middle of the plot area, moves the point there
    area = root.locator(".nsewdrag").first
    area.scroll_into_view_if_needed()
    size = area.bounding_box()
    page.mouse.click(size["x"] + size["width"] * 0.5, size["y"] + size["height"] * 0.5)
    clicked = root.evaluate(STATE)
    if clicked["controls"] == dragged["controls"]:
        problems.append("a click on the map does not move the point")
    elif not (abs(float(clicked["controls"]["alpha"]) - 1.0) < 0.05 and abs(float(clicked["controls"]["beta"])) < 0.05):
        problems.append(f"a click at the map's centre (1, 0) moved the point to {clicked['controls']}")
    problems += [f"after the click: {p}" for p in convergence_map_problems(clicked)]
    problems += page_problems(record)
    assert not problems, "\n".join(problems)


def narrow_problems(page) -> list[str]:
    return page.evaluate("""() => {
      const problems = [], width = document.documentElement.clientWidth;
      document.querySelectorAll('div.explorable').forEach((box) => {
        const r = box.getBoundingClientRect();
        if (r.right > width + 0.5 || r.left < -0.5) problems.push(`the explorable spans ${r.left}..${r.right} of ${width} px`);
        if (box.scrollWidth > box.clientWidth + 1) problems.push(`the explorable's content is ${box.scrollWidth} px wide in ${box.clientWidth}`);
        box.querySelectorAll('.ex-plot, .ex-control').forEach((e) => {
          const q = e.getBoundingClientRect();
          if (q.right > r.right + 0.5) problems.push(`${e.className} ends at ${q.right}, past the box's ${r.right}`);
        });
      });
      if (document.documentElement.scrollWidth > width) problems.push(`the page is ${document.documentElement.scrollWidth} px wide`);
      return problems;
    }""")


def settle(page) -> None:
    """After a change of the window's width, wait (up to 5 s) until plotly has redrawn every plot
    within its box, as it does on a window's resize (``responsive``); the check then says what is
    still too wide. The browser crawl waits the same way (tests/test_browser.py)."""
    page.evaluate(SETTLED)


@pytest.mark.parametrize("rel", PAGES)
def test_explorables_fit_a_narrow_screen(opened, rel):
    page, record = opened(rel)
    page.set_viewport_size(NARROW)
    settle(page)
    problems = narrow_problems(page) + page_problems(record)
    assert not problems, "\n".join(problems)


FALLBACK = """(fig) => {
  const shown = (e) => !!e && getComputedStyle(e).display !== 'none' && e.getBoundingClientRect().height > 0;
  return {explorable: Array.from(document.querySelectorAll('div.explorable')).some(shown),
          figure: fig ? shown(document.getElementById(fig))
            : Array.from(document.querySelectorAll('table')).some((t) => shown(t)
                && (t.compareDocumentPosition(document.querySelector('div.explorable')) & Node.DOCUMENT_POSITION_FOLLOWING))};
}"""
FIGURES = {"chapters/02_inner_loop.html": "fig-inner-loop", "chapters/03_outer_loop.html": "fig-loss-along",
           "chapters/05_momentum.html": "fig-convergence-map",
           # chapter 6's static counterpart is the table of runs above the explorable (a code cell's output)
           "chapters/06_meta_step_size.html": None}
FIGURES.update({rel: FIGURES[rel.partition("/")[2]] for rel in PAGES if rel not in FIGURES})


def fallback_problems(page, rel, where) -> list[str]:
    state = page.evaluate(FALLBACK, FIGURES[rel])
    problems = []
    if state["explorable"]:
        problems.append(f"{where}: the explorable is shown")
    if not state["figure"]:
        problems.append(f"{where}: the static figure {FIGURES[rel] or '(a table before the explorable)'} is not shown")
    return problems


@pytest.mark.parametrize("rel", PAGES)
def test_print_and_no_javascript_show_the_static_figure(browser, opened, server, rel):
    page, record = opened(rel)
    page.emulate_media(media="print")
    problems = fallback_problems(page, rel, "in print")
    plain = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = plain.new_page()
    page.goto(server.url + rel)
    problems += fallback_problems(page, rel, "without JavaScript")
    plain.close()
    assert not problems, "\n".join(problems)


KOREAN_TEXT = """(root) => {
  const texts = Array.from(root.querySelectorAll('.ex-title, label, .ex-label, .ex-note, button, option'))
    .map((e) => e.textContent);
  root.querySelectorAll('[aria-label]').forEach((e) => texts.push(e.getAttribute('aria-label')));
  root.querySelectorAll('svg text').forEach((e) => texts.push(e.textContent));
  return texts;
}"""


@pytest.mark.parametrize("rel", [rel for rel in PAGES if rel not in ENGLISH_PAGES])
def test_the_translated_explorables_show_no_english(opened, rel):
    """Every title, label, note, button, plot title, axis and legend of a translated edition's box."""
    page, record = opened(rel)
    texts = page.locator("div.explorable").first.evaluate(KOREAN_TEXT)
    english = sorted({text for text in texts if re.search(r"[A-Za-z]{3,}", text.replace("old", ""))})
    assert texts and not english, f"English in {rel}'s explorable: {english}"


def test_only_pages_with_an_explorable_load_plotly(site):
    loading = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                     if "plotly-cartesian.min.js" in p.read_text(encoding="utf-8", errors="replace"))
    assert loading == sorted(PAGES), loading


# --- the checks fail on broken copies ----------------------------------------------------------

def overlay(site: Path, tmp: Path, changes: dict) -> Path:
    """A copy of the site made of symlinks, but for the files in ``changes`` (path -> function of the
    text), which are real files changed by their function."""
    site = site.resolve()
    copy = tmp / "site"
    copy.mkdir()
    for entry in site.iterdir():
        (copy / entry.name).symlink_to(entry)
    for rel, change in changes.items():
        parts = Path(rel).parts
        for k in range(1, len(parts)):  # make every folder on the way a real folder of symlinks
            folder = copy.joinpath(*parts[:k])
            if folder.is_symlink():
                source = folder.resolve()
                folder.unlink()
                folder.mkdir()
                for entry in source.iterdir():
                    (folder / entry.name).symlink_to(entry)
        target = copy / rel
        text = (site / rel).read_text(encoding="utf-8")
        changed = change(text)
        assert changed != text, f"the tampering did not change {rel}"
        target.unlink()
        target.write_text(changed, encoding="utf-8")
    return copy


MATH_FILE = "_static/explorables/explorable_math.js"
UI_FILE = "_static/explorables/explorables.js"
CSS_FILE = "_static/explorables/explorables.css"


def broken(site, tmp, changes):
    return Server(overlay(site, tmp, changes))


def test_a_wrong_formula_in_the_page_is_caught(context, site, tmp_path):
    # phi2's gradient summed against h_t instead of h_{t-1}: the trajectory stays right, the gradient does not
    wrong = {MATH_FILE: lambda t: t.replace("d[1] += hBar * (t > 0 ? h[t - 1] : 0);", "d[1] += hBar * h[t];")}
    with broken(site, tmp_path, wrong) as server:
        page, record = open_explorables(context, server, "chapters/03_outer_loop.html")
        root = page.locator("div.explorable").first
        problems = worked_example_problems(root.evaluate(STATE))
        page.close()
    assert any(p.startswith("meta-gradient") for p in problems), problems
    assert any(p.startswith("helps-true") for p in problems), problems


def test_a_wrong_eigenvalue_is_caught(context, site, tmp_path):
    wrong = {MATH_FILE: lambda t: t.replace("const s = 1 - 2 * alpha + beta;", "const s = 1 - alpha + beta;")}
    with broken(site, tmp_path, wrong) as server:
        page, record = open_explorables(context, server, "chapters/05_momentum.html")
        problems = convergence_map_problems(page.locator("div.explorable").first.evaluate(STATE))
        page.close()
    assert any(p.startswith("eigenvalues") for p in problems), problems


def test_plotly_from_a_cdn_is_caught(context, site, tmp_path):
    cdn = "https://cdn.plot.ly/plotly-cartesian-3.0.0.min.js"
    rel = "chapters/05_momentum.html"
    changes = {rel: lambda t: re.sub(r'src="[^"]*plotly-cartesian\.min\.js[^"]*"', f'src="{cdn}"', t)}
    with broken(site, tmp_path, changes) as server:
        page, record = open_explorables(context, server, rel)
        page.close()
    assert cdn in record["blocked"], record
    assert page_problems(record)


def test_a_script_error_is_caught(context, site, tmp_path):
    changes = {UI_FILE: lambda t: t.replace("const start = M.momentum(c.phi);", "const start = M.momentum(c.phi);\n"
                                            "    throw new Error('broken on purpose');")}
    with broken(site, tmp_path, changes) as server:
        page, record = open_explorables(context, server, "chapters/05_momentum.html")
        page.close()
    assert any("broken on purpose" in m for m in record["console"]), record


def test_a_missing_label_and_a_control_out_of_tab_order_are_caught(context, site, tmp_path):
    changes = {UI_FILE: lambda t: t.replace('el("label", { for: id, text: label }), input,', "input,", 1)
               .replace('"data-control": name,\n    });', '"data-control": name, tabindex: "-1",\n    });', 1)}
    with broken(site, tmp_path, changes) as server:
        page, record = open_explorables(context, server, "chapters/02_inner_loop.html")
        root = page.locator("div.explorable").first
        labels, keys = label_problems(root), keyboard_problems(page, root, "worked-example")
        page.close()
    assert any("has no label" in p for p in labels), labels
    assert any("Tab does not reach" in p for p in keys), keys


def test_a_box_too_wide_for_a_narrow_screen_is_caught(context, site, tmp_path):
    changes = {CSS_FILE: lambda t: t + "div.explorable .ex-controls { grid-template-columns: repeat(2, 16rem); }\n"}
    with broken(site, tmp_path, changes) as server:
        page, record = open_explorables(context, server, "chapters/02_inner_loop.html")
        page.set_viewport_size(NARROW)
        settle(page)
        problems = narrow_problems(page)
        page.close()
    assert problems, "a 32rem grid should not fit 400 px"


def test_a_lost_fallback_is_caught(context, site, tmp_path):
    rel = "chapters/05_momentum.html"
    changes = {CSS_FILE: lambda t: t.replace("@media print { div.explorable { display: none !important; } }", ""),
               rel: lambda t: re.sub(r'(<div class="explorable" [^>]*) hidden>', r"\1>", t)}
    with broken(site, tmp_path, changes) as server:
        page, record = open_explorables(context, server, rel)
        page.emulate_media(media="print")
        printed = fallback_problems(page, rel, "in print")
        page.close()
        plain = context.browser.new_context(java_script_enabled=False)
        page = plain.new_page()
        page.goto(server.url + rel)
        no_js = fallback_problems(page, rel, "without JavaScript")
        plain.close()
    assert any("the explorable is shown" in p for p in printed), printed
    assert any("the explorable is shown" in p for p in no_js), no_js


def test_a_wrong_meta_step_is_caught(context, site, tmp_path):
    wrong = {MATH_FILE: lambda t: t.replace("current = metaStep(current, run.grad, eta);",
                                            "current = metaStep(current, run.grad, 1.01 * eta);")}
    with broken(site, tmp_path, wrong) as server:
        page, record = open_explorables(context, server, "chapters/06_meta_step_size.html")
        problems = meta_training_problems(page.locator("div.explorable").first.evaluate(STATE))
        page.close()
    assert any(p.startswith("phi") for p in problems), problems


def test_a_divergence_reported_late_is_caught(context, site, tmp_path):
    wrong = {MATH_FILE: lambda t: t.replace("return { phi: phis, loss: losses, diverged: k };",
                                            "return { phi: phis, loss: losses, diverged: k + 1 };")}
    with broken(site, tmp_path, wrong) as server:
        page, record = open_explorables(context, server, "chapters/06_meta_step_size.html")
        root = page.locator("div.explorable").first
        set_control(page, root, "eta", 0.01)
        problems = meta_training_problems(root.evaluate(STATE))
        page.close()
    assert any("diverges at iteration" in p for p in problems), problems


def test_a_wrong_reset_is_caught(context, site, tmp_path):
    wrong = {UI_FILE: lambda t: t.replace("setValue(ctl.phi2, c.phi[1]);", "setValue(ctl.phi2, c.phi[0]);")}
    with broken(site, tmp_path, wrong) as server:
        page, record = open_explorables(context, server, "chapters/02_inner_loop.html")
        root = page.locator("div.explorable").first
        set_control(page, root, "phi2", -0.3)
        problems = reset_problems(root, "worked-example")
        page.close()
    assert any(p.startswith("after reset, phi2") for p in problems), problems

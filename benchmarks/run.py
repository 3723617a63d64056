"""Benchmarks of the metaopt library and the book: ``make bench`` (or ``python benchmarks/run.py``).

Prints each figure with its goal beside it, the peer it is measured against timed in the
same run, and writes them with the raw timings and the machine's description to
``benchmarks/results.json``, which the book's appendix "Performance" reads (the appendix
never times anything itself, so its stored outputs stay stable under nbval).

1. cheap gradient: ``meta_gradient`` time / ``unroll`` time at 10^5 inner steps;
2. batching: ``meta_gradient`` on 4096 phi at once vs a Python loop over them;
3. closed form: ``symbolic.meta_gradient`` for T = 1..40 vs the naive way
   (``sympy.expand`` after every step of the unrolled loop) for T = 1..20;
4. the book: wall time of ``make test``, of a full rebuild (``make clean book``) and of a
   rebuild when nothing changed (``make book``);
5. one phi against its peers: ``meta_gradient`` vs the plain-Python floor and vs
   ``jax.jit(jax.value_and_grad(...))``, at T = 10 and T = 10^5 (``benchmarks/peers.py``);
6. a batch against JAX: ``meta_gradient`` on 4096 phi vs ``jax.jit(jax.vmap(...))``, T = 100 and 1000;
7. the pages: what a first visit to each page of the built book downloads, and when
   MathJax has finished typesetting it, in headless Chromium.

These machines are shared and noisy, so every comparison of the library with a peer is a
ratio of two timings taken in the same run, interleaved, each the minimum of several
repeats (the minimum is the run least disturbed by other processes). The closed form's
naive times and the book's times are single runs.

Options: ``--quick`` (tiny sizes, for the smoke test), ``--skip-book`` (keep the book
timings already stored in the output file), ``--skip-pages`` (keep the stored page
measurements), ``--out PATH``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gzip
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import sympy as sp
from sympy.core.cache import clear_cache

import metaopt
from metaopt import dynamics, meta_gradient, symbolic, unroll

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results.json"
sys.path.insert(0, str(ROOT / "benchmarks"))
import peers  # noqa: E402  (benchmarks/peers.py: the plain-Python floor and the JAX peers)

# goal: what we aim for; limit: what must never happen (issue 5)
GOALS = {
    "gradient": {"goal": 2.0, "limit": 3.0, "better": "lower"},
    "batching": {"goal": 30.0, "limit": 10.0, "better": "higher"},
    "closed_form": {"goal": 1 / 3, "limit": 1 / 3, "better": "lower"},
    "make_test": {"goal": 240.0, "limit": 240.0, "better": "lower"},
    # meta_gradient ÷ its peer, one phi (issue 15)
    "single_floor_10": {"goal": 1.5, "limit": 1.5, "better": "lower"},
    "single_jax_10": {"goal": 1.0, "limit": 1.0, "better": "lower"},
    "single_floor_100000": {"goal": 1.1, "limit": 1.1, "better": "lower"},
    # meta_gradient on 4096 phi ÷ jax.jit(jax.vmap(...)) on the same
    "batch_jax": {"goal": 1.0, "limit": 1.0, "better": "lower"},
    # make book when nothing changed ÷ make clean book
    "incremental": {"goal": 1.0, "limit": 1.0, "better": "lower"},
}


def timed(func, number: int = 1) -> float:
    """Seconds per call of ``func``, over ``number`` calls in a row."""
    start = time.perf_counter()
    for _ in range(number):
        func()
    return (time.perf_counter() - start) / number


def interleaved(funcs: dict, repeats: int, inner: dict | None = None, number: int = 1) -> dict:
    """The minimum time of each function over ``repeats`` rounds, the functions taking turns.

    ``inner`` gives, per function, how many times to run it within each round (for fast
    functions: more samples of the quiet moments, at little cost); ``number``, how many
    calls in a row make one sample (for calls of microseconds, which one clock reading
    cannot resolve).
    """
    inner = inner or {}
    best = {name: float("inf") for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            for _ in range(inner.get(name, 1)):
                best[name] = min(best[name], timed(func, number))
    return best


# --- 1. cheap gradient -------------------------------------------------------------------

def bench_gradient(steps: int, repeats: int) -> dict:
    problem = dict(theta0=metaopt.THETA0, theta_star=metaopt.THETA_STAR, steps=steps)
    best = interleaved(
        {
            "unroll": lambda: unroll(metaopt.PHI_OLD, **problem),
            "meta_gradient": lambda: meta_gradient(metaopt.PHI_OLD, **problem),
        },
        repeats,
    )
    return {
        "steps": steps,
        "repeats": repeats,
        "unroll_s": best["unroll"],
        "meta_gradient_s": best["meta_gradient"],
        "ratio": best["meta_gradient"] / best["unroll"],
        **GOALS["gradient"],
    }


# --- 2. batching -------------------------------------------------------------------------

def random_phis(n: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-1, 1, n), rng.uniform(-0.9, 0.9, n), rng.uniform(-1, 1, n)])


def bench_batching(n: int, steps_list, repeats: int) -> dict:
    phis = random_phis(n)
    rows = []
    for steps in steps_list:
        problem = dict(theta0=metaopt.THETA0, theta_star=metaopt.THETA_STAR, steps=steps)
        batch_loss, batch_grad = meta_gradient(phis, **problem)
        looped = [meta_gradient(phi, **problem) for phi in phis]
        assert np.array_equal(batch_grad, [g for _, g in looped]), "batched and looped results differ"
        best = interleaved(
            {
                "batch": lambda: meta_gradient(phis, **problem),
                "loop": lambda: [meta_gradient(phi, **problem) for phi in phis],
            },
            repeats,
            inner={"batch": 10},
        )
        rows.append({"steps": steps, "batch_s": best["batch"], "loop_s": best["loop"],
                     "speedup": best["loop"] / best["batch"]})
    headline = rows[0]
    return {"n": n, "repeats": repeats, "rows": rows, "steps": headline["steps"],
            "speedup": headline["speedup"], **GOALS["batching"]}


# --- 3. closed form ----------------------------------------------------------------------

def naive_meta_gradient(steps, theta0=metaopt.THETA0, theta_star=metaopt.THETA_STAR):
    """The naive closed form: unroll with sympy expressions, ``expand`` after every step,
    then expand the meta-loss and differentiate it. (Not expanding along the way is far
    worse: the expression tree doubles with every step.)"""
    phi1, phi2, phi3 = symbolic.PHI
    theta, star = symbolic.exact(theta0), symbolic.exact(theta_star)
    h = sp.Integer(0)
    for _ in range(steps):
        grad = sp.expand(2 * (theta - star))
        h = sp.expand(phi1 * grad + phi2 * h)
        theta = sp.expand(theta + phi3 * h)
    loss = sp.expand((theta - star) ** 2)
    return loss, tuple(sp.diff(loss, p) for p in symbolic.PHI)


def bench_closed_form(new_max: int, naive_max: int, naive_cap_s: float) -> dict:
    symbolic.meta_gradient(steps=1)  # import-time work out of the first measurement
    new = []
    results = {}
    for steps in range(1, new_max + 1):
        best = float("inf")
        for _ in range(3):  # cheap enough to take the best of three
            clear_cache()  # each measurement starts from sympy's empty cache
            start = time.perf_counter()
            results[steps] = symbolic.meta_gradient(steps=steps)
            best = min(best, time.perf_counter() - start)
        new.append(best)
        print(f"  closed form T={steps:2d}: {new[-1]:8.3f} s", flush=True)
    naive = []
    for steps in range(1, naive_max + 1):
        clear_cache()
        start = time.perf_counter()
        loss, dloss = naive_meta_gradient(steps)
        naive.append(time.perf_counter() - start)  # once: the naive way is slow
        # the same exact polynomials, term for term
        assert sp.expand(loss - results[steps][0]) == 0, f"naive and new meta-loss differ at T={steps}"
        assert all(sp.expand(a - b) == 0 for a, b in zip(dloss, results[steps][1])), f"gradients differ at T={steps}"
        print(f"  naive       T={steps:2d}: {naive[-1]:8.3f} s", flush=True)
        if naive[-1] > naive_cap_s:
            break
    return {
        "new": {"T": list(range(1, len(new) + 1)), "seconds": new},
        "naive": {"T": list(range(1, len(naive) + 1)), "seconds": naive},
        "terms": {str(t): len(sp.Add.make_args(results[t][0])) for t in (1, len(new) // 2, len(new))},
        "new_T": len(new),
        "naive_T": len(naive),
        "ratio": new[-1] / naive[-1],
        **GOALS["closed_form"],
    }


# --- 4. the book -------------------------------------------------------------------------

def wall_time(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - start, done


def pytest_summary(output: str) -> str:
    """pytest's last line of counts, e.g. '6 failed, 1650 passed in 71.2s'."""
    lines = re.findall(r"^=* ?(\d+ (?:failed|passed).*?) ?=*$", output, flags=re.M)
    return lines[-1] if lines else ""


def bench_book() -> dict:
    make = os.environ.get("MAKE", "make")
    test_s, test = wall_time([make, "test"])
    summary = pytest_summary(test.stdout)
    strict_separately = "build succeeded" not in test.stdout and test.returncode != 0
    if strict_separately:
        # pytest failed, so make stopped before the strict build: time it on its own and add it,
        # so that the figure is still the wall time of everything `make test` runs
        strict_s, strict = wall_time([make, "strict-build"])
        test_s += strict_s
        summary += "; strict build " + ("succeeded" if strict.returncode == 0 else "FAILED") + ", timed separately"
    rebuild_s, rebuild = wall_time([make, "clean", "book"])
    # nothing changed since the clean build: Sphinx reads no page again
    incremental_s, incremental = wall_time([make, "book"])
    return {
        "incremental_s": incremental_s,
        "incremental_ok": incremental.returncode == 0,
        "make_test_s": test_s,
        "make_test_ok": test.returncode == 0,
        "make_test_summary": summary,
        "rebuild_s": rebuild_s,
        "rebuild_ok": rebuild.returncode == 0,
        "rebuild_command": "make clean book",
        **GOALS["make_test"],
    }


# --- 5. one phi against its peers ---------------------------------------------------------

def bench_single(steps_list, repeats: int) -> dict:
    """meta_gradient for one phi vs the plain-Python floor and JAX's jitted value_and_grad."""
    phi, theta0, theta_star = metaopt.PHI_OLD, metaopt.THETA0, metaopt.THETA_STAR
    rows = []
    for steps in steps_list:
        ours = meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps)
        floor = peers.floor(*phi, theta0, theta_star, steps)
        jax_run, jax_fwd = peers.jax_single(steps), peers.jax_forward(steps)
        jax_phi = peers.to_device(np.array(phi))
        theirs = jax_run(jax_phi, theta0, theta_star)  # compiles, outside the timing
        assert np.allclose(np.asarray(jax_fwd(jax_phi, theta0, theta_star)), ours.grad, rtol=1e-9, atol=1e-12)
        for name, (loss, grad) in {"floor": floor, "jax": theirs}.items():  # a fast wrong answer cannot win
            assert np.allclose(float(loss), ours.loss, rtol=1e-9, atol=1e-300), (name, steps)
            assert np.allclose(np.asarray(grad), ours.grad, rtol=1e-9, atol=1e-12), (name, steps)
        number = max(1, 20_000 // (steps + 10))
        best = interleaved(
            {
                "metaopt": lambda: meta_gradient(phi, theta0=theta0, theta_star=theta_star, steps=steps),
                "floor": lambda: peers.floor(*phi, theta0, theta_star, steps),
                "jax": lambda: jax_run(jax_phi, theta0, theta_star),
                "jax_forward": lambda: jax_fwd(jax_phi, theta0, theta_star),
            },
            repeats,
            number=number,
        )
        rows.append({"steps": steps, "metaopt_s": best["metaopt"], "floor_s": best["floor"], "jax_s": best["jax"],
                     "jax_forward_s": best["jax_forward"],
                     "vs_floor": best["metaopt"] / best["floor"], "vs_jax": best["metaopt"] / best["jax"],
                     "jax_forward_vs_reverse": best["jax_forward"] / best["jax"]})
    return {"rows": rows, "repeats": repeats, "jax": peers.jax_version()}


# --- 6. a batch against JAX ---------------------------------------------------------------

def stable_phis(n: int, seed: int = 5) -> np.ndarray:
    """``n`` random phi whose inner loop converges (spectral radius below 1), so long horizons stay finite."""
    candidates = random_phis(20 * n, seed)
    phis = candidates[dynamics.spectral_radius(candidates) < 0.999][:n]
    assert len(phis) == n
    return phis


def bench_batch_jax(n: int, steps_list, repeats: int) -> dict:
    phis = stable_phis(n)
    theta0, theta_star = metaopt.THETA0, metaopt.THETA_STAR
    rows = []
    for steps in steps_list:
        ours = meta_gradient(phis, theta0=theta0, theta_star=theta_star, steps=steps)
        jax_run = peers.jax_batch(steps)
        jax_phis = peers.to_device(phis)
        loss, grad = jax_run(jax_phis, theta0, theta_star)  # compiles, outside the timing
        scale = (theta0 - theta_star) ** 2  # the meta-loss before any step: rounding is relative to it
        assert np.allclose(np.asarray(loss), ours.loss, rtol=1e-9, atol=1e-12 * scale), "JAX's losses differ"
        assert np.allclose(np.asarray(grad), ours.grad, rtol=1e-9, atol=1e-9 * scale), "JAX's gradients differ"
        best = interleaved(
            {
                "metaopt": lambda: meta_gradient(phis, theta0=theta0, theta_star=theta_star, steps=steps),
                "jax": lambda: jax_run(jax_phis, theta0, theta_star),
            },
            repeats,
        )
        rows.append({"steps": steps, "metaopt_s": best["metaopt"], "jax_s": best["jax"],
                     "vs_jax": best["metaopt"] / best["jax"]})
    return {"n": n, "rows": rows, "repeats": repeats, "jax": peers.jax_version(), **GOALS["batch_jax"]}


# --- 7. the pages -------------------------------------------------------------------------

#: Set up before any page script runs: records when MathJax's first typesetting is done,
#: in milliseconds after navigation started (performance.now() counts from there).
MATH_CLOCK = """(() => {
  const poll = setInterval(() => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      clearInterval(poll);
      MathJax.startup.promise.then(() => { window.__mathjaxDone = performance.now(); });
    }
  }, 2);
})();"""

#: Every file the page downloaded (the page itself first), with its size in bytes.
RESOURCES = """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .map((e) => ({url: e.name, bytes: e.encodedBodySize}))"""


def resource_kind(path: str) -> str:
    """Who a downloaded file belongs to: the page, its figures, MathJax, the book's own CSS, the explorables,
    or the theme."""
    if path.startswith("mathjax/"):
        return "mathjax"
    if path.startswith("_images/"):
        return "figures"
    if path == "_static/booktools.css":
        return "book"
    if path.startswith("_static/explorables/"):
        return "explorables"  # plotly.js and the explorables' own files (booktools.explorables)
    if path.startswith("_static/"):
        return "theme"
    return "page"


@functools.lru_cache(maxsize=None)
def gzip_size(path: Path) -> int:
    """Bytes of ``path`` compressed by gzip at its default level: what a host that compresses would send."""
    return len(gzip.compress(path.read_bytes()))


def bench_pages(site: Path, repeats: int) -> dict:
    """For every page of ``site``: bytes downloaded on a first visit (a fresh browser context,
    so nothing is cached), by kind, and when MathJax finished (best of ``repeats`` visits)."""
    from urllib.parse import unquote, urlsplit

    from playwright.sync_api import sync_playwright

    from booktools.browser import Server, block_other_hosts, launch

    redirect = re.compile(r'<meta[^>]+http-equiv="refresh"', re.I)
    pages = sorted(str(p.relative_to(site)) for p in site.rglob("*.html")
                   if not p.relative_to(site).parts[0].startswith("_")
                   and p.name not in ("search.html", "genindex.html")
                   and not redirect.search(p.read_text(encoding="utf-8")))
    rows = []
    with Server(site) as server, sync_playwright() as playwright:
        browser = launch(playwright)
        for rel in pages:
            best_ms, resources, blocked = float("inf"), None, []
            for _ in range(repeats):
                context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
                page = context.new_page()
                block_other_hosts(page, server, blocked)
                page.add_init_script(MATH_CLOCK)
                page.goto(server.url + rel, wait_until="load")
                done = page.evaluate("""async () => {
                  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
                  await document.fonts.ready;
                  await new Promise((r) => setTimeout(r, 50));
                  return window.__mathjaxDone ?? null;
                }""")
                resources = page.evaluate(RESOURCES)
                context.close()
                if done is not None:
                    best_ms = min(best_ms, done)
            by_kind: dict[str, int] = {}
            gzipped = 0
            for r in resources:
                path = unquote(urlsplit(r["url"]).path.lstrip("/"))
                kind = resource_kind(path)
                by_kind[kind] = by_kind.get(kind, 0) + r["bytes"]
                gzipped += gzip_size(site / path) if (site / path).is_file() else r["bytes"]
            rows.append({"page": rel, "bytes": sum(by_kind.values()), "by_kind": by_kind, "gzip_bytes": gzipped,
                         "files": len(resources), "mathjax_ms": None if best_ms == float("inf") else best_ms,
                         "blocked": sorted(set(blocked))})
        browser.close()
    return {"rows": rows, "repeats": repeats, "viewport": "1280x900"}


# --- report ------------------------------------------------------------------------------

def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sympy": sp.__version__,
        "system": f"{platform.system()} {platform.machine()}",
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def verdict(value: float, goal: dict) -> str:
    if goal["better"] == "lower":
        return "meets goal" if value <= goal["goal"] else ("within limit" if value <= goal["limit"] else "MISSES LIMIT")
    return "meets goal" if value >= goal["goal"] else ("within limit" if value >= goal["limit"] else "MISSES LIMIT")


def report(results: dict) -> str:
    g, b, c, k = (results.get(key) for key in ("gradient", "batching", "closed_form", "book"))
    lines = [f"metaopt benchmarks, {results['date']}, {results['machine']['cores']} cores, "
             f"Python {results['machine']['python']}, numpy {results['machine']['numpy']}, "
             f"sympy {results['machine']['sympy']}"]
    lines.append(
        f"1. cheap gradient   meta_gradient / unroll at {g['steps']:,} steps = {g['ratio']:.2f}"
        f"   (goal <= {g['goal']:g}, never above {g['limit']:g}: {verdict(g['ratio'], g)})"
        f"   [{g['meta_gradient_s']:.3f} s / {g['unroll_s']:.3f} s]"
    )
    lines.append(
        f"2. batching         loop / batch over {b['n']} phi at T={b['steps']} = {b['speedup']:.0f}x"
        f"   (goal >= {b['goal']:g}x, never below {b['limit']:g}x: {verdict(b['speedup'], b)})"
    )
    for row in b["rows"]:
        lines.append(f"                     T={row['steps']:<4d} {row['loop_s'] * 1e3:9.1f} ms / "
                     f"{row['batch_s'] * 1e3:7.2f} ms = {row['speedup']:.0f}x")
    lines.append(
        f"3. closed form      T={c['new_T']} exact / naive T={c['naive_T']} = {c['ratio']:.3f}"
        f"   (goal <= 1/3: {verdict(c['ratio'], c)})"
        f"   [{c['new']['seconds'][-1]:.2f} s / {c['naive']['seconds'][-1]:.2f} s]"
    )
    if k:
        inc = k.get("incremental_s")
        lines.append(
            f"4. the book         make test {k['make_test_s']:.0f} s"
            f"{'' if k['make_test_ok'] else ' (FAILED: ' + k.get('make_test_summary', '') + ')'}"
            f"   (budget {k['goal']:.0f} s: {verdict(k['make_test_s'], k)}),"
            f" rebuild ({k['rebuild_command']}) {k['rebuild_s']:.0f} s{'' if k['rebuild_ok'] else ' (FAILED)'}"
            + (f", make book with nothing changed {inc:.1f} s ({inc / k['rebuild_s']:.2f} of the rebuild: "
               f"{verdict(inc / k['rebuild_s'], GOALS['incremental'])})" if inc else "")
        )
    else:
        lines.append("4. the book         not measured (run without --skip-book)")
    single = results.get("single")
    if single:
        for row in single["rows"]:
            T = row["steps"]
            floor_goal = GOALS.get(f"single_floor_{T}")
            jax_goal = GOALS.get(f"single_jax_{T}")
            lines.append(
                f"5. one phi, T={T:<7,d} metaopt {row['metaopt_s'] * 1e6:9.1f} us, floor {row['floor_s'] * 1e6:9.1f} us, "
                f"jax.jit {row['jax_s'] * 1e6:9.1f} us: / floor = {row['vs_floor']:.2f}"
                + (f" (goal <= {floor_goal['goal']:g}: {verdict(row['vs_floor'], floor_goal)})" if floor_goal else "")
                + f", / jax = {row['vs_jax']:.2f}"
                + (f" (goal <= {jax_goal['goal']:g}: {verdict(row['vs_jax'], jax_goal)})" if jax_goal else " (no goal)")
                + f"; JAX forward / reverse mode = {row['jax_forward_vs_reverse']:.2f}"
            )
    bj = results.get("batch_jax")
    if bj:
        for row in bj["rows"]:
            lines.append(
                f"6. {bj['n']} phi, T={row['steps']:<5d} metaopt {row['metaopt_s'] * 1e3:8.2f} ms, "
                f"jax.jit(vmap) {row['jax_s'] * 1e3:8.2f} ms: ratio {row['vs_jax']:.2f}"
                f" (goal <= {bj['goal']:g}: {verdict(row['vs_jax'], bj)})"
            )
    pages = results.get("pages")
    if pages:
        rows = pages["rows"]
        heaviest = max(rows, key=lambda r: r["bytes"])
        slowest = max(rows, key=lambda r: r["mathjax_ms"] or 0)
        lines.append(
            f"7. pages            {len(rows)} pages, first visit {min(r['bytes'] for r in rows) / 2**20:.2f}"
            f"-{heaviest['bytes'] / 2**20:.2f} MiB (heaviest {heaviest['page']}); MathJax done at most "
            f"{slowest['mathjax_ms']:.0f} ms after navigation ({slowest['page']})"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test); implies --skip-book")
    parser.add_argument("--skip-book", action="store_true", help="keep the stored make test / rebuild timings")
    parser.add_argument("--skip-pages", action="store_true", help="keep the stored page measurements")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    results = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make bench",
        "machine": machine(),
    }
    if args.quick:
        results["gradient"] = bench_gradient(2_000, 2)
        results["batching"] = bench_batching(64, [2, 20], 2)
        results["closed_form"] = bench_closed_form(6, 4, 60.0)
        results["single"] = bench_single([10, 1000], 2)
        results["batch_jax"] = bench_batch_jax(64, [10], 2)
    else:
        print("1. cheap gradient ...", flush=True)
        results["gradient"] = bench_gradient(100_000, 7)
        print("2. batching ...", flush=True)
        results["batching"] = bench_batching(4096, [2, 20, 100], 3)
        print("3. closed form ...", flush=True)
        results["closed_form"] = bench_closed_form(40, 20, 300.0)
        print("5. one phi: metaopt, the plain-Python floor, JAX ...", flush=True)
        results["single"] = bench_single([10, 100_000], 15)
        print("6. a batch: metaopt, JAX ...", flush=True)
        results["batch_jax"] = bench_batch_jax(4096, [100, 1000], 7)
    if args.quick or args.skip_book:
        results["book"] = previous.get("book")
    else:
        print("4. the book: make test, make clean book, make book ...", flush=True)
        results["book"] = bench_book()
    site = ROOT / "_build" / "html"
    if args.quick or args.skip_pages or not (site / "index.html").exists():
        results["pages"] = previous.get("pages")
    else:
        print("7. the pages, in headless Chromium ...", flush=True)
        results["pages"] = bench_pages(site, 3)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print()
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

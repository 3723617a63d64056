"""Benchmarks of the metaopt library and the book: ``make bench`` (or ``python benchmarks/run.py``).

Prints four figures, each with its goal beside it, and writes them with the
raw timings and the machine's description to ``benchmarks/results.json``,
which the book's appendix "Performance" reads (the appendix never times
anything itself, so its stored outputs stay stable under nbval).

1. cheap gradient: ``meta_gradient`` time / ``unroll`` time at 10^5 inner steps;
2. batching: ``meta_gradient`` on 4096 phi at once vs a Python loop over them;
3. closed form: ``symbolic.meta_gradient`` for T = 1..40 vs the naive way
   (``sympy.expand`` after every step of the unrolled loop) for T = 1..20;
4. the book: wall time of ``make test`` and of a full rebuild (``make clean book``).

These machines are shared and noisy, so every figure is a ratio of two
timings taken in the same run, interleaved, each the minimum of several
repeats (the minimum is the run least disturbed by other processes).

Options: ``--quick`` (tiny sizes, for the smoke test), ``--skip-book`` (keep
the book timings already stored in the output file), ``--out PATH``.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from metaopt import meta_gradient, symbolic, unroll

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results.json"

# goal: what we aim for; limit: what must never happen (issue 5)
GOALS = {
    "gradient": {"goal": 2.0, "limit": 3.0, "better": "lower"},
    "batching": {"goal": 100.0, "limit": 50.0, "better": "higher"},
    "closed_form": {"goal": 1 / 3, "limit": 1 / 3, "better": "lower"},
    "make_test": {"goal": 180.0, "limit": 180.0, "better": "lower"},
}


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def interleaved(funcs: dict, repeats: int, inner: dict | None = None) -> dict:
    """The minimum time of each function over ``repeats`` rounds, the functions taking turns.

    ``inner`` gives, per function, how many times to run it within each round (for fast
    functions: more samples of the quiet moments, at little cost).
    """
    inner = inner or {}
    best = {name: float("inf") for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            for _ in range(inner.get(name, 1)):
                best[name] = min(best[name], timed(func))
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
    return {
        "make_test_s": test_s,
        "make_test_ok": test.returncode == 0,
        "make_test_summary": summary,
        "rebuild_s": rebuild_s,
        "rebuild_ok": rebuild.returncode == 0,
        "rebuild_command": "make clean book",
        **GOALS["make_test"],
    }


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
        lines.append(
            f"4. the book         make test {k['make_test_s']:.0f} s"
            f"{'' if k['make_test_ok'] else ' (FAILED: ' + k.get('make_test_summary', '') + ')'}"
            f"   (budget {k['goal']:.0f} s: {verdict(k['make_test_s'], k)}),"
            f" rebuild ({k['rebuild_command']}) {k['rebuild_s']:.0f} s{'' if k['rebuild_ok'] else ' (FAILED)'}"
        )
    else:
        lines.append("4. the book         not measured (run without --skip-book)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test); implies --skip-book")
    parser.add_argument("--skip-book", action="store_true", help="keep the stored make test / rebuild timings")
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
    else:
        print("1. cheap gradient ...", flush=True)
        results["gradient"] = bench_gradient(100_000, 7)
        print("2. batching ...", flush=True)
        results["batching"] = bench_batching(4096, [2, 20, 100], 3)
        print("3. closed form ...", flush=True)
        results["closed_form"] = bench_closed_form(40, 20, 300.0)
    if args.quick or args.skip_book:
        results["book"] = previous.get("book")
    else:
        print("4. the book: make test, make clean book ...", flush=True)
        results["book"] = bench_book()
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print()
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Mutation testing of metaopt: do the tests notice when the library is wrong? (``make mutate``)

Each *mutant* is the library with one small change to one module: an operator swapped
(``+`` for ``-``, ``<`` for ``<=``, ``and`` for ``or``), a number changed (``2`` to ``3``),
a ``not`` or a minus sign dropped, the first two arguments of a call swapped, a ``raise`` or
a call statement deleted. The module's tests run against it (a copy of ``lib/`` with the
mutant in it, first on ``PYTHONPATH``); a test that fails *kills* it. A mutant that survives
is either a gap in the tests or *equivalent*: a change no test could see, because the program
computes the same thing (``x * 2`` and ``x + x``), listed in ``tests/mutation_equivalent.json``
with the reason. The score of a module is killed / (mutants - equivalent).

Why our own mutator and not mutmut or cosmic-ray: both rewrite the package in place or need
their own test runner configuration, and neither knows this project's split of tests by
module; the mutator is one AST walk (about 150 lines), and what it does is listed above.

    python -m booktools.mutate core dynamics      # these modules (default: all in MODULES)
    python -m booktools.mutate --list core        # print the mutants, run nothing
    python -m booktools.mutate --survivors core   # after new tests: only the last run's survivors

``--survivors`` runs again only the mutants that survived the last full run, and counts the
ones killed then as still killed: true when tests were only added or made stricter since. It
refuses unless the module's source is the one that run mutated (its hash is stored).

It writes ``tests/mutation.json`` (committed): per module, the counts, the score and every
surviving mutant, so a change in the figures shows in review.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib"
RESULTS = ROOT / "tests" / "mutation.json"
EQUIVALENT = ROOT / "tests" / "mutation_equivalent.json"

# The tests that speak for each module, fastest and most specific first (pytest -x stops at the
# first failure). The walks over every function (policy, promise, fuzz) run only their cases
# of this module (-k), with the two library-wide checks of test_promise: the README's limits
# table, and the bad inputs issue 16 found accepted.
MODULES = {
    "core": ["tests/test_gradients.py", "tests/test_batch.py", "tests/test_errors.py", "tests/test_adjoints.py",
             "tests/test_document.py", "tests/test_properties.py",
             *(f"tests/test_performance.py::test_{name}" for name in
               ("plain_finite_floats_take_the_fast_path", "anything_else_takes_the_full_path",
                "the_workspace_is_reused_up_to_its_limit", "scalar_fast_path_is_plain_floats"))],
    "sweep": ["tests/test_sweep.py", "tests/test_gradients.py", "tests/test_batch.py", "tests/test_tasks.py",
              "tests/test_horizon.py", "tests/test_first_order.py", "tests/test_properties.py"],
    "dynamics": ["tests/test_dynamics.py", "tests/test_tasks.py"],
    "tasks": ["tests/test_tasks.py", "tests/test_baselines.py"],
    "symbolic": ["tests/test_symbolic.py", "tests/test_intervals.py", "tests/test_document.py",
                 "tests/test_gradients.py", "tests/test_horizon.py",
                 *(f"tests/test_performance.py::test_as_expr_{name}" for name in
                   ("is_sympys_own_conversion", "corner_cases", "builds_exact_numbers_itself",
                    "of_symbolic_coefficients_is_sympys_own", "other_domains_fall_back"))],
}
WALKS = ["tests/test_policy.py", "tests/test_promise.py", "tests/test_fuzz.py"]

BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult,
          ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv}
COMPARES = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
BOOLOPS = {ast.And: ast.Or, ast.Or: ast.And}


def _symbol(op) -> str:
    return {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//",
            ast.Mod: "%", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
            ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.And: "and",
            ast.Or: "or"}[op]


class _Sites(ast.NodeVisitor):
    """Every place a mutation applies, in source order: (node, field, description)."""

    def __init__(self):
        self.sites = []
        self.scope = ["<module>"]

    def _function(self, node):
        self.scope.append(node.name)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        for statement in body:
            self.visit(statement)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node):
        self.scope.append(node.name)
        for statement in node.body:
            self.visit(statement)
        self.scope.pop()

    def add(self, node, what):
        self.sites.append((node, what, ".".join(self.scope[1:]) or "<module>"))

    def visit_JoinedStr(self, node):
        pass  # error-message text: the tests match messages, but a mutated word is not a wrong result

    def visit_Assign(self, node):
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)

    def visit_arguments(self, node):
        for default in node.defaults + [d for d in node.kw_defaults if d is not None]:
            self.visit(default)

    def visit_BinOp(self, node):
        if type(node.op) in BINOPS:
            self.add(node, f"{_symbol(type(node.op))} -> {_symbol(BINOPS[type(node.op)])}")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        if type(node.op) in BINOPS:
            self.add(node, f"{_symbol(type(node.op))}= -> {_symbol(BINOPS[type(node.op)])}=")
        self.add(node, "delete the statement")
        self.generic_visit(node)

    def visit_Compare(self, node):
        for i, op in enumerate(node.ops):
            if type(op) in COMPARES:
                self.add(node, f"#{i} {_symbol(type(op))} -> {_symbol(COMPARES[type(op)])}")
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        self.add(node, f"{_symbol(type(node.op))} -> {_symbol(BOOLOPS[type(node.op)])}")
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, (ast.Not, ast.USub)):
            self.add(node, f"drop {'not' if isinstance(node.op, ast.Not) else 'unary -'}")
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, bool):
            self.add(node, f"{node.value} -> {not node.value}")
        elif isinstance(node.value, (int, float)):
            self.add(node, f"{node.value!r} -> {node.value + 1!r}")

    def visit_Call(self, node):
        if len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args[:2]) \
                and ast.dump(node.args[0]) != ast.dump(node.args[1]):
            self.add(node, "swap the first two arguments")
        self.generic_visit(node)

    def visit_Raise(self, node):
        self.add(node, "delete the raise")
        # the message of a raise is text, not a computation: not mutated

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Call):
            self.add(node, "delete the call")
        self.generic_visit(node)


def _apply(node, what):
    """Mutate ``node`` in place as ``what`` says; return a replacement node for statements."""
    if what == "delete the statement" or what == "delete the raise" or what == "delete the call":
        return ast.Pass()
    if isinstance(node, ast.BinOp):
        node.op = BINOPS[type(node.op)]()
    elif isinstance(node, ast.AugAssign):
        node.op = BINOPS[type(node.op)]()
    elif isinstance(node, ast.Compare):
        i = int(what.split()[0][1:])
        node.ops[i] = COMPARES[type(node.ops[i])]()
    elif isinstance(node, ast.BoolOp):
        node.op = BOOLOPS[type(node.op)]()
    elif isinstance(node, ast.UnaryOp):
        return node.operand
    elif isinstance(node, ast.Constant):
        node.value = (not node.value) if isinstance(node.value, bool) else node.value + 1
    elif isinstance(node, ast.Call):
        node.args[0], node.args[1] = node.args[1], node.args[0]
    return node


class _Replace(ast.NodeTransformer):
    def __init__(self, target, replacement):
        self.target, self.replacement = target, replacement

    def generic_visit(self, node):
        if node is self.target:
            return self.replacement
        return super().generic_visit(node)


def mutants(module: str):
    """Every mutant of ``metaopt.<module>``: dicts with key, scope, line, what, source."""
    return mutants_of(module, (LIB / "metaopt" / f"{module}.py").read_text())


def mutants_of(module: str, text: str):
    """Every mutant of the module source ``text`` (named ``module`` in the keys), in source order."""
    lines = text.splitlines()
    count = len(_sites(text))
    seen = {}
    for k in range(count):
        tree = ast.parse(text)
        node, what, scope = _sites_of(tree)[k]
        line = node.lineno
        replacement = _apply(node, what)
        tree = _Replace(node, replacement).visit(tree)
        ast.fix_missing_locations(tree)
        code = lines[line - 1].strip()
        key = f"{module}.{scope}: {code} [{what} @{node.col_offset}]"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # the same change on an identical line of the same function
            key += f" #{seen[key]}"
        yield dict(key=key, scope=scope, line=line, what=what, source=ast.unparse(tree))


def _sites_of(tree):
    visitor = _Sites()
    visitor.visit(tree)
    return visitor.sites


def _sites(text):
    return _sites_of(ast.parse(text))


def _copy_library(tmp) -> Path:
    """A copy of lib/metaopt under ``tmp``; returns the folder to put on PYTHONPATH."""
    copy = Path(tmp) / "lib"
    shutil.copytree(LIB / "metaopt", copy / "metaopt", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


# A mutant can make a loop run far longer (a bound dropped, a check that lets 10**9 steps through).
# pytest-timeout fails any one test after TEST_TIMEOUT seconds, about 7 times the slowest test of
# any module's list (4 s, on a machine running two mutants at once): such a mutant is killed
# in seconds, not after the whole run's timeout.
TEST_TIMEOUT = 30


def _pytest(*arguments):
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
            f"--timeout={TEST_TIMEOUT}", *arguments]


def _run(module: str, mutant: dict, timeout: float) -> str:
    """Run the module's tests against one mutant: 'killed', 'survived' or 'timeout'.

    pytest's exit code 1 (a test failed) or 2 (collection failed: the mutant does not import) kills
    the mutant; any other failure (no tests collected, a usage error) is this tool's fault and stops it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        copy = _copy_library(tmp)
        (copy / "metaopt" / f"{module}.py").write_text(mutant["source"])
        env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1", JAX_PLATFORMS="cpu")
        for command in (_pytest(*MODULES[module]), _pytest(*WALKS, "-k", f"{module} or readme or accepted_bad")):
            try:
                done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return "timeout"
            if done.returncode in (1, 2):
                return "killed"
            if done.returncode != 0:
                raise SystemExit(f"pytest exited with {done.returncode} on {mutant['key']}:\n"
                                 f"{done.stdout.decode()[-2000:]}")
        return "survived"


def _check_copy_is_used():
    """The copy on PYTHONPATH must shadow the editable install, or every mutant would 'survive'."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = _copy_library(tmp)
        env = dict(os.environ, PYTHONPATH=str(copy))
        where = subprocess.run([sys.executable, "-c", "import metaopt; print(metaopt.__file__)"], env=env,
                               capture_output=True, text=True, check=True).stdout.strip()
        if not where.startswith(str(copy)):
            raise SystemExit(f"the mutated copy is not the metaopt that tests import ({where})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES))
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--survivors", action="store_true",
                        help="run again only the mutants that survived the last full run (after new tests), "
                             "if the module's source is unchanged since")
    args = parser.parse_args(argv)
    unknown = set(args.modules) - set(MODULES)
    if unknown:
        raise SystemExit(f"unknown modules {sorted(unknown)}; known: {', '.join(MODULES)}")
    equivalent = json.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.list and not args.survivors:
        _check_copy_is_used()
    for module in args.modules:
        source = (LIB / "metaopt" / f"{module}.py").read_text()
        digest = hashlib.sha256(source.encode()).hexdigest()[:16]
        previous = results.get(module)
        if args.survivors and (not previous or previous.get("source") != digest):
            raise SystemExit(f"{module}: --survivors needs a full run of this very source first "
                             f"(tests/mutation.json has {previous and previous.get('source')}, the module is {digest})")
        found = list(mutants(module))
        every_key = {m["key"] for m in found}
        if args.survivors:
            again = set(previous["surviving"])
            killed_before = previous["killed"]
            found = [m for m in found if m["key"] in again and m["key"] not in equivalent]  # listed since: not run
        if args.list:
            for m in found:
                print(m["key"])
            continue
        if args.survivors:
            _check_copy_is_used()
        start = time.perf_counter()
        baseline = subprocess.run(_pytest(*MODULES[module]), cwd=ROOT, capture_output=True)
        if baseline.returncode:
            raise SystemExit(f"{module}: the tests fail without any mutant:\n{baseline.stdout.decode()[-2000:]}")
        timeout = 3 * (time.perf_counter() - start) + 60
        outcomes = [None] * len(found)
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(_run, module, m, timeout): k for k, m in enumerate(found)}
            for done, future in enumerate(as_completed(futures), start=1):
                k = futures[future]
                outcomes[k] = future.result()
                if outcomes[k] == "survived" or done % 25 == 0:
                    print(f"  {module} {done}/{len(found)}: {outcomes[k]}: {found[k]['key']}", flush=True)
        survived = [m["key"] for m, o in zip(found, outcomes) if o == "survived"]
        killed = outcomes.count("killed") + outcomes.count("timeout")
        timeouts = outcomes.count("timeout")
        seconds = round(time.perf_counter() - start)
        if args.survivors:  # the mutants killed in the full run stay killed: the tests only grew since
            survived += [k for k in previous["surviving"] if k not in {m["key"] for m in found}]
            killed += killed_before
            timeouts += previous["timeouts"]
            seconds += previous["seconds"]
        known = [k for k in survived if k in equivalent]
        gaps = [k for k in survived if k not in equivalent]
        total = previous["mutants"] if args.survivors else len(found)
        known_before = previous["equivalent"] if args.survivors else 0
        score = killed / max(total - len(known) - known_before, 1)
        results[module] = dict(mutants=total, killed=killed, timeouts=timeouts, equivalent=len(known) + known_before,
                               score=round(score, 4), surviving=gaps, seconds=seconds, source=digest,
                               survivors_rerun=bool(args.survivors))
        print(f"{module}: {killed}/{total - len(known) - known_before} killed ({100 * score:.1f} %), "
              f"{len(known) + known_before} equivalent, {len(gaps)} surviving", flush=True)
        for key in gaps:
            print(f"  survived: {key}", flush=True)
        stale = sorted(k for k in equivalent if k.startswith(f"{module}.") and k not in every_key)
        for key in stale:
            print(f"  listed as equivalent but no longer a mutant (the code changed: update {EQUIVALENT.name}): {key}")
        RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

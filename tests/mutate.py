"""`make mutate`: mutation testing (mutmut) of the rules that decide what users are told.

The repository keeps the customer's layout (ingest/, reports/ beside vulnpipe/), which
mutmut cannot map to import names. So the package is laid out as it is installed, in
build/mutate/vulnpipe/ (ingest/ as vulnpipe/ingest/, ...), with a pyproject.toml that
configures mutmut; mutmut copies it to build/mutate/mutants/, which comes first on sys.path,
so ``import vulnpipe`` there is the mutated copy. Tests run in-process (mutmut forks one
child per mutant); PYTHONPATH points any `python -m vulnpipe` the tests start at it too.
The property tests (hypothesis) are left out of mutation runs (see STAGED_CONFTEST): the
example tests judge the mutants, so a full run stays within about half an hour on 2 cores.

Modules are run one at a time (``python tests/mutate.py coverage timeline``), so partial
results count; results are kept in build/mutate/mutants/ between runs (mutmut only tests
mutants of code that changed). Each run rewrites tests/MUTATION.md from all results so far,
with every surviving mutant either explained as equivalent (tests/mutation_equivalent.toml)
or listed as not killed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "build" / "mutate"
REPORT = ROOT / "tests" / "MUTATION.md"
EQUIVALENT = ROOT / "tests" / "mutation_equivalent.toml"

#: The rule modules (name -> installed module path) and the tests that judge them. mutmut
#: runs, for each mutant, only the selected tests that call the mutated function.
MODULES: dict[str, str] = {
    "coverage": "vulnpipe/ingest/coverage.py",
    "reconcile": "vulnpipe/reports/reconcile.py",
    "timeline": "vulnpipe/reports/tickets/timeline.py",
    "weeks": "vulnpipe/reports/weekly/weeks.py",
    "figures": "vulnpipe/reports/weekly/figures.py",
    "cells": "vulnpipe/reports/writers/cells.py",
    "matching": "vulnpipe/ingest/assets/matching.py",
    "profiles": "vulnpipe/ingest/profiles.py",
    "priority": "vulnpipe/ingest/assets/priority.py",
}
TESTS = ["tests/test_rules.py", "tests/test_coverage.py", "tests/test_reconcile.py",
         "tests/test_matching.py", "tests/test_priority.py"]
#: Folders the tests read besides tests/ (the sample scans and inventory).
ALSO_COPY = ["sample_data"]
LAYOUT = {"vulnpipe": "vulnpipe", "ingest": "vulnpipe/ingest", "reports": "vulnpipe/reports",
          "templates": "vulnpipe/templates"}


#: build/mutate/conftest.py. pytest imports tests.conftest as `tests.*`, so the folder holding
#: tests/ must be on sys.path. The property tests (hypothesis) are left out of mutation runs:
#: mutmut runs the selected tests once per mutant, and a property test costs seconds per run
#: (more when a failing example is shrunk) where an example test costs milliseconds; the
#: example tests of each module are what judge its mutants. `make test` runs them all.
STAGED_CONFTEST = '''\
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def pytest_collection_modifyitems(config, items):
    fast = [i for i in items if not getattr(getattr(i, "obj", None), "is_hypothesis_test", False)]
    if len(fast) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in fast])
        items[:] = fast
'''


def stage() -> None:
    """build/mutate/: the package as installed, the tests, and mutmut's configuration."""
    STAGE.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    fresh = STAGE / "vulnpipe.new"
    shutil.rmtree(fresh, ignore_errors=True)
    for folder, target in LAYOUT.items():
        shutil.copytree(ROOT / folder, fresh / Path(target).relative_to("vulnpipe"), ignore=ignore,
                        dirs_exist_ok=True)
    shutil.rmtree(STAGE / "vulnpipe", ignore_errors=True)
    fresh.rename(STAGE / "vulnpipe")
    # mutmut copies these into mutants/ only once, and on a fresh build/mutate/ its first run
    # misses a mutants/conftest.py it copied itself: put them in both places before it starts
    for where in (STAGE, STAGE / "mutants"):
        where.mkdir(exist_ok=True)
        for folder in ["tests", *ALSO_COPY]:
            shutil.rmtree(where / folder, ignore_errors=True)
            shutil.copytree(ROOT / folder, where / folder, ignore=ignore)
        (where / "conftest.py").write_text(STAGED_CONFTEST)
    pytest_ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    config = {
        "source_paths": ["vulnpipe/"],
        "only_mutate": sorted(MODULES.values()),
        "also_copy": [f"{f}/" for f in ALSO_COPY] + ["conftest.py"],
        "pytest_add_cli_args_test_selection": TESTS,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-p", "no:randomly", "-q"],
        "timeout_multiplier": 5.0,
        "timeout_constant": 10.0,
    }
    text = "# written by tests/mutate.py\n[tool.mutmut]\n"
    text += "".join(f"{k} = {json.dumps(v)}\n" for k, v in config.items())
    text += "\n[tool.pytest.ini_options]\n"
    text += "".join(f"{k} = {json.dumps(v)}\n" for k, v in pytest_ini.items() if k != "testpaths")
    (STAGE / "pyproject.toml").write_text(text)


def mutmut(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(STAGE / "mutants"), "VULNPIPE_MUTATE": "1"}
    env.pop("VULNPIPE_DB", None)
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=STAGE, env=env, check=check,
                          text=True, capture_output=True)


def retest_survivors(path: str) -> None:
    """Forget the results of mutants that were not killed, so the tests as they are now judge
    them again (mutmut keeps results; tests only grow, so a killed mutant stays killed)."""
    meta = STAGE / "mutants" / (path + ".meta")
    if meta.exists():
        data = json.loads(meta.read_text())
        codes = data["exit_code_by_key"]
        data["exit_code_by_key"] = {n: c if c in (1, 3) else None for n, c in codes.items()}
        meta.write_text(json.dumps(data))


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def results() -> dict[str, str]:
    """Every mutant of the rule modules so far -> its status (killed, survived, no tests, ...),
    read from mutmut's result files (``mutmut results`` takes minutes on this tree)."""
    from mutmut.stats import status_by_exit_code

    status = {}
    for path in MODULES.values():
        meta = STAGE / "mutants" / (path + ".meta")
        if meta.exists():
            codes = json.loads(meta.read_text())["exit_code_by_key"]
            status.update({name: status_by_exit_code[code] for name, code in codes.items()})
    return status


_FUNCTIONS: dict[str, dict[str, str]] = {}


def diff(name: str) -> str:
    """The mutant as a diff against the original function (read from mutmut's mutated file)."""
    import ast
    import difflib

    module, _, function = name.rpartition(".")
    if module not in _FUNCTIONS:
        source = (STAGE / "mutants" / (module.replace(".", "/") + ".py")).read_text()
        lines = source.splitlines()
        _FUNCTIONS[module] = {
            node.name: "\n".join(lines[node.lineno - 1:node.end_lineno])
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    found = _FUNCTIONS[module]
    base = function.rsplit("__mutmut_", 1)[0]
    orig = found.get(base + "__mutmut_orig", "").splitlines()
    mutant = found.get(function, "").splitlines()
    lines = difflib.unified_diff(orig, mutant, lineterm="", n=1)
    return "\n".join(line for line in lines if not line.startswith(("---", "+++")))


def report(timings: dict[str, float]) -> None:
    equivalent = tomllib.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}
    status = results()
    lines = ["# Mutation testing of the rules that decide \"fixed\"", "",
             "Written by `make mutate` (tests/mutate.py, mutmut). Every surviving mutant is either",
             "explained (equivalent: no test can tell it apart, or never run by mutmut because the code",
             "runs only at import; tests/mutation_equivalent.toml) or listed as not killed.",
             "Score: killed / (all - explained). A timeout counts as killed.", "",
             "| module | mutants | killed | explained | not killed | score | seconds (last run) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    survivors: list[tuple[str, str]] = []
    totals = [0, 0, 0, 0]
    for short, path in MODULES.items():
        prefix = module_name(path) + "."
        mine = {n: s for n, s in status.items() if n.startswith(prefix)}
        if not mine:
            lines.append(f"| {short} | not run yet | | | | | |")
            continue
        if "not checked" in mine.values():
            done = {n: s for n, s in mine.items() if s != "not checked"}
            killed = sum(1 for s in done.values() if s in ("killed", "timeout"))
            lines.append(f"| {short} | {len(mine)} (run so far: {len(done)}) | {killed} | | "
                         f"{len(done) - killed} | partial | |")
            continue
        killed = sum(1 for s in mine.values() if s in ("killed", "timeout", "caught by type check"))
        equiv = sum(1 for n, s in mine.items() if s not in ("killed", "timeout") and n in equivalent)
        left = len(mine) - killed - equiv
        survivors += [(n, s) for n, s in sorted(mine.items())
                      if s not in ("killed", "timeout", "caught by type check")]
        judged = len(mine) - equiv
        score = f"{100 * killed / judged:.1f}%" if judged else "-"
        seconds = f"{timings[short]:.0f}" if short in timings else ""
        lines.append(f"| {short} | {len(mine)} | {killed} | {equiv} | {left} | {score} | {seconds} |")
        for i, v in enumerate((len(mine), killed, equiv, left)):
            totals[i] += v
    judged = totals[0] - totals[2]
    if judged:
        lines.append(f"| **all** | {totals[0]} | {totals[1]} | {totals[2]} | {totals[3]} | "
                     f"**{100 * totals[1] / judged:.1f}%** | |")
    lines += ["", "Tests run against each mutant (only those that call the mutated function): "
              + ", ".join(f"`{t}`" for t in TESTS) + ".", ""]
    not_killed = [(n, s) for n, s in survivors if n not in equivalent]
    lines += [f"## Not killed ({len(not_killed)})", ""]
    for name, state in not_killed:
        lines += [f"### `{name}` ({state})", "", "```diff", diff(name).strip(), "```", ""]
    explained = [(n, s) for n, s in survivors if n in equivalent]
    lines += [f"## Equivalent ({len(explained)})", ""]
    for name, _state in explained:
        lines += [f"### `{name}`", "", equivalent[name].strip(), "", "```diff", diff(name).strip(),
                  "```", ""]
    REPORT.write_text("\n".join(lines).rstrip() + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"some of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--report-only", action="store_true", help="rewrite tests/MUTATION.md only")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (2)")
    args = parser.parse_args()
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(MODULES)}")
    timings: dict[str, float] = {}
    if not args.report_only:
        stage()
        for short in args.modules or list(MODULES):
            retest_survivors(MODULES[short])
            began = time.monotonic()
            r = mutmut("run", "--max-children", str(args.max_children),
                       module_name(MODULES[short]) + ".*", check=False)
            timings[short] = time.monotonic() - began
            print(f"{short}: mutmut exit {r.returncode} in {timings[short]:.0f} s", flush=True)
            if r.returncode:
                print(r.stdout[-3000:], r.stderr[-3000:], sep="\n", file=sys.stderr)
            report(timings)
    report(timings)
    print(f"wrote {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

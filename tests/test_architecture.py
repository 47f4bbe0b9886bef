"""The house rules: one import name, data flows one way, the store owns its SQL, commands
use the public library only, and no module imports another that imports it back."""
from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: repository folder -> installed package (pyproject.toml [tool.setuptools.package-dir])
FOLDERS = {"vulnpipe": "vulnpipe", "ingest": "vulnpipe.ingest", "reports": "vulnpipe.reports",
           "templates": "vulnpipe.templates"}
#: What a command may import: the library's documented entry points.
PUBLIC = {"vulnpipe", "vulnpipe.workflows", "vulnpipe.config", "vulnpipe.console",
          "vulnpipe.delivery", "vulnpipe.ingest.errors", "vulnpipe.ingest.records"}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if "versions" in rel.parts:          # Alembic revisions are scripts, not modules
                continue
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The vulnpipe modules ``name`` imports, anywhere but under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text("utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.add(full if full in MODULES else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in out if m in MODULES}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """Module -> the vulnpipe modules it imports (read when the first test asks, not while
    every xdist worker collects the suite)."""
    return {name: _imports(name, path) for name, path in MODULES.items()}


def test_no_module_imports_one_that_imports_it_back(graph):
    """No import circle, direct or through other modules (package __init__ files that only
    describe their package are not part of the chain)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def strong(v: str) -> None:                    # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            strong(v)
    assert circles == []


def test_ingest_never_imports_reports_or_the_command_line(graph):
    for name, deps in graph.items():
        if name.startswith("vulnpipe.ingest"):
            bad = {d for d in deps if d.startswith("vulnpipe.reports") or
                   (d.startswith("vulnpipe.") and not d.startswith("vulnpipe.ingest"))}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_only_the_store_imports_the_schema(graph):
    for name, deps in graph.items():
        if "vulnpipe.ingest.store.schema" in deps:
            assert name.startswith("vulnpipe.ingest.store"), f"{name} imports the schema"


def test_commands_use_only_the_public_library(graph):
    for name, deps in graph.items():
        if name.startswith("vulnpipe.commands"):
            bad = {d for d in deps if d not in PUBLIC and not d.startswith("vulnpipe.commands")}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_the_public_api_lists_what_help_shows():
    out = subprocess.run([sys.executable, "-c", "import vulnpipe; help(vulnpipe)"],
                         capture_output=True, text=True, env={"PAGER": "cat", "TERM": "dumb"},
                         timeout=120)
    assert out.returncode == 0, out.stderr
    for name in ("iter_findings", "read_frames", "write_findings", "open_store", "ingest_scans",
                 "export_tickets", "weekly_report", "load_inventory", "resolve_profile"):
        assert name in out.stdout, name


def test_import_vulnpipe_is_cheap_and_names_arrive_on_use():
    code = ("import sys, vulnpipe; assert 'pandas' not in sys.modules; "
            "assert 'sqlalchemy' not in sys.modules; f = vulnpipe.read_frames; "
            "print(f.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "vulnpipe.ingest.nessus.read"


@pytest.mark.slow
def test_installing_adds_exactly_one_top_level_import_name(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                        "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    wheel = next(tmp_path.glob("vulnpipe-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        tops = {n.split("/")[0] for n in zf.namelist()}
        names = zf.namelist()
    assert {t for t in tops if not t.endswith(".dist-info")} == {"vulnpipe"}
    # the data files travel with it
    for needed in ("vulnpipe/ingest/builtin_profiles.toml", "vulnpipe/templates/weekly.html.j2",
                   "vulnpipe/templates/remediation/11387_l2tp_network_server.toml",
                   "vulnpipe/ingest/store/migrations/versions/0003_history.py",
                   "vulnpipe/ingest/store/migrations/script.py.mako"):
        assert needed in names, needed


def test_every_package_folder_is_listed_for_installation():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = set()
    for folder, package in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            folders.add(".".join([package, *rel.parts]))
    assert folders == listed

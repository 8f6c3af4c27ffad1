"""Structural rules of ARCHITECTURE.md, checked on the source.

The import rules (layers domain -> core -> engine -> surfaces, no cycles between packages, Textual only in
ui/remote, Peewee and the drivers only in db/data/market, ccxt and openai only in their adapters, argparse only
in the command-line surface) are import-linter contracts in pyproject.toml ([tool.importlinter]); imports inside
functions count. What an import graph cannot say (SQL text in strings, stdlib-only domain, what
``cockpit --help`` loads) is checked here directly.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "cockpit"
SQL_ALLOWED = ("db", "data", "market")
SQL = re.compile(
    r"\bexecute_sql\(|\b(SELECT|INSERT|UPDATE|DELETE)\s+(INTO\s+|FROM\s+|OR\s+IGNORE\s+|[\w*])"
    r"|\.insert_many\(|\.on_conflict"
)


def sources():
    for p in sorted(PKG.rglob("*.py")):
        yield p.relative_to(PKG).as_posix(), p.read_text(encoding="utf-8")


def test_import_contracts():
    """lint-imports over pyproject.toml's contracts, in a child process (it imports nothing of ours)."""
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"import contracts broken (pyproject.toml [tool.importlinter]):\n{r.stdout}\n{r.stderr}"
    assert "0 broken" in r.stdout, r.stdout


def test_sql_only_in_db_data_market():
    offenders = []
    for rel, src in sources():
        top = rel.split("/")[0]
        if top in SQL_ALLOWED:
            continue
        # Strip docstrings/comments crudely: SQL words in prose are fine, calls are not.
        code = re.sub(r'""".*?"""', "", src, flags=re.S)
        code = re.sub(r"#.*", "", code)
        for m in SQL.finditer(code):
            offenders.append(f"{rel}: {m.group(0)!r}")
    assert not offenders, "SQL outside cockpit/db, data, market:\n" + "\n".join(offenders)


def test_domain_is_stdlib_only():
    import grimp

    graph = grimp.build_graph("cockpit", include_external_packages=True)
    offenders = []
    for mod in sorted(m for m in graph.modules if m == "cockpit.domain" or m.startswith("cockpit.domain.")):
        for imported in graph.find_modules_directly_imported_by(mod):
            top = imported.split(".")[0]
            if top == "cockpit":
                if not (imported == "cockpit.domain" or imported.startswith("cockpit.domain.")):
                    offenders.append(f"{mod} imports {imported}")
            elif top not in sys.stdlib_module_names:
                offenders.append(f"{mod} imports {imported}")
    assert not offenders, "cockpit/domain imports beyond the standard library:\n" + "\n".join(offenders)


def test_cli_help_does_not_import_textual():
    code = (
        "import sys; from cockpit.cli import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"

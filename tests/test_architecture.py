"""Structural rules of ARCHITECTURE.md, checked on the source."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "cockpit"
SQL_ALLOWED = ("db", "data", "market")
SQL = re.compile(r"\bexecute_sql\(|\b(SELECT|INSERT|UPDATE|DELETE)\s+(INTO\s+|FROM\s+|OR\s+IGNORE\s+|[\w*])"
                 r"|\bfrom\s+cockpit\.db\.models\s+import|\bimport\s+peewee\b|\.insert_many\(|\.on_conflict")
TEXTUAL = re.compile(r"^\s*(from|import)\s+textual\b", re.M)


def sources():
    for p in sorted(PKG.rglob("*.py")):
        yield p.relative_to(PKG).as_posix(), p.read_text(encoding="utf-8")


def test_sql_and_peewee_only_in_db_data_market():
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
    assert not offenders, "SQL or Peewee queries outside cockpit/db, data, market:\n" + "\n".join(offenders)


def test_textual_only_under_ui():
    offenders = [rel for rel, src in sources() if not rel.startswith("ui/") and TEXTUAL.search(src)]
    assert not offenders, f"textual imported outside cockpit/ui: {offenders}"


def test_domain_is_stdlib_only():
    allowed_third_party = set()
    for rel, src in sources():
        if not rel.startswith("domain/"):
            continue
        for m in re.finditer(r"^\s*(?:from|import)\s+([\w.]+)", src, re.M):
            mod = m.group(1).split(".")[0]
            assert mod in sys.stdlib_module_names or mod in ("cockpit", "__future__") or mod in allowed_third_party, \
                f"{rel} imports {mod}"


def test_cli_help_does_not_import_textual():
    code = ("import sys; from cockpit.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"

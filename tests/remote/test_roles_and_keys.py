"""Viewer enforcement in submit_command, authorized-keys parsing, the host key, serve-web's bind rules."""

from __future__ import annotations

import os
import shlex
import stat

import pytest

from cockpit.data.operator import COMMANDS, OperatorNotAllowed, submit_command

asyncssh = pytest.importorskip("asyncssh")


def _rows(db) -> list[tuple]:
    return db.execute_sql("SELECT command, operator FROM operator_commands ORDER BY id").fetchall()


@pytest.mark.parametrize("role", ["viewer", "admin", "Trader"])
def test_non_trader_roles_cannot_submit_any_command(db, monkeypatch, role):
    monkeypatch.setenv("COCKPIT_ROLE", role)
    for command in COMMANDS:
        with pytest.raises(OperatorNotAllowed) as e:
            submit_command(command, now_ms=1, order_id=None, db=db)
        assert isinstance(e.value, PermissionError)
        assert role in str(e.value) and "only a trader" in str(e.value)
    assert _rows(db) == []


def test_trader_and_local_operator_may_submit(db, monkeypatch):
    monkeypatch.setenv("COCKPIT_OPERATOR", "ssh SHA256:abc alice@desk")
    monkeypatch.setenv("COCKPIT_ROLE", "trader")
    submit_command("kill", now_ms=1, db=db)
    monkeypatch.delenv("COCKPIT_ROLE")
    submit_command("clear_kill", now_ms=2, db=db)
    rows = _rows(db)
    assert [r[0] for r in rows] == ["kill", "clear_kill"]
    assert all("ssh SHA256:abc alice@desk" in r[1] for r in rows)


def _pub(key) -> str:
    return key.export_public_key("openssh").decode().strip()


def test_authorized_keys_roles_and_problems():
    from cockpit.remote.ssh import parse_authorized_keys

    k = [asyncssh.generate_private_key("ssh-ed25519", comment=c) for c in ("a", "b", "c", "d", "e", "f")]
    text = "\n".join(
        [
            "# comment line",
            'environment="COCKPIT_ROLE=trader" ' + _pub(k[0]),  # 2: trader from the option
            _pub(k[1]),  # 3: no role: viewer
            'no-agent-forwarding,environment="COCKPIT_ROLE=trader" ' + _pub(k[2]),  # 4: trader from the option
            'environment="COCKPIT_ROLE=viewer",environment="COCKPIT_ROLE=trader" '
            + _pub(k[3]),  # 5: two roles: refused
            'environment="COCKPIT_ROLE=root" ' + _pub(k[4]),  # 6: unknown role: refused
            "cert-authority " + _pub(k[5]),  # 7: CA: refused
            "ssh-ed25519 not-base64!!",  # 8: junk
            "",
        ]
    )
    entries, problems = parse_authorized_keys(text)
    got = {e.line_no: (e.role, e.comment, e.fingerprint) for e in entries}
    assert got == {
        2: ("trader", "a", k[0].get_fingerprint()),
        3: ("viewer", "b", k[1].get_fingerprint()),
        4: ("trader", "c", k[2].get_fingerprint()),
    }
    assert [p.split(":")[0] for p in problems] == ["line 5", "line 6", "line 7", "line 8"]
    assert "more than once" in problems[0] and "unknown role 'root'" in problems[1]
    assert entries[1].operator == f"ssh {k[1].get_fingerprint()} b"
    pub = [asyncssh.import_public_key(_pub(x)) for x in k]  # what a client presents
    assert entries[0].matches(pub[0], "", "127.0.0.1") and not entries[0].matches(pub[1], "", "127.0.0.1")


def test_a_comment_cannot_grant_a_role():
    """The comment is written by the key's owner: `cockpit-role=trader` there grants nothing (issue 19)."""
    from cockpit.remote.ssh import parse_authorized_keys

    key = asyncssh.generate_private_key("ssh-ed25519", comment="mallory cockpit-role=trader")
    entries, problems = parse_authorized_keys(_pub(key))
    assert [e.role for e in entries] == ["viewer"]
    assert len(problems) == 1 and "comment is ignored" in problems[0] and "COCKPIT_ROLE=trader" in problems[0]
    # Nor can it contradict the operator's option, or smuggle an option in after the key.
    entries, _ = parse_authorized_keys('environment="COCKPIT_ROLE=viewer" ' + _pub(key))
    assert [e.role for e in entries] == ["viewer"]
    sneaky = _pub(key).rsplit(" ", 2)[0] + ' m environment="COCKPIT_ROLE=trader"'
    entries, _ = parse_authorized_keys(sneaky)
    assert [e.role for e in entries] == ["viewer"]


def test_options_we_would_not_honour_are_refused():
    from cockpit.remote.ssh import parse_authorized_keys

    pub = _pub(asyncssh.generate_private_key("ssh-ed25519", comment="t"))
    ok, problems = parse_authorized_keys(
        'restrict,pty,environment="OTHER=a,b",environment="COCKPIT_ROLE=trader" ' + pub
    )
    assert problems == [] and [e.role for e in ok] == ["trader"]
    for opt in ('expiry-time="20200101"', "no-pty", "foo-bar", "no-port-forwarding,verify-required"):
        entries, problems = parse_authorized_keys(f"{opt} {pub}")
        assert entries == [] and "unsupported option" in problems[0], opt


def test_a_role_given_twice_is_counted_by_asyncssh_s_parser():
    """Two COCKPIT_ROLE= environment options refuse the key; the text COCKPIT_ROLE= inside another option's value
    (asyncssh's own parser reads the options) is not a second role."""
    from cockpit.remote.ssh import parse_authorized_keys

    pub = _pub(asyncssh.generate_private_key("ssh-ed25519", comment="t"))
    entries, problems = parse_authorized_keys(
        'environment="COCKPIT_ROLE=trader",environment="COCKPIT_ROLE=trader" ' + pub
    )
    assert entries == [] and "more than once" in problems[0]
    entries, problems = parse_authorized_keys(
        'environment="COCKPIT_ROLE=trader",environment="X=COCKPIT_ROLE=viewer",command="COCKPIT_ROLE=viewer" ' + pub
    )
    assert problems == [] and [e.role for e in entries] == ["trader"]


def test_from_option_is_honoured():
    from cockpit.remote.ssh import parse_authorized_keys

    key = asyncssh.generate_private_key("ssh-ed25519", comment="far")
    (entry,), _ = parse_authorized_keys('from="10.0.0.0/8",environment="COCKPIT_ROLE=trader" ' + _pub(key))
    assert entry.role == "trader"
    pub = asyncssh.import_public_key(_pub(key))
    assert entry.matches(pub, "", "10.1.2.3") and not entry.matches(pub, "", "127.0.0.1")


def test_host_key_created_0600_kept_and_unsafe_mode_refused(tmp_path):
    from cockpit.remote.ssh import RemoteSetupError, ensure_host_key

    path = tmp_path / "sub" / "host_key"
    key, created = ensure_host_key(path)
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created2 = ensure_host_key(path)
    assert not created2 and again.get_fingerprint() == key.get_fingerprint()
    os.chmod(path, 0o644)
    with pytest.raises(RemoteSetupError, match="chmod 600"):
        ensure_host_key(path)


def test_child_env_sets_identity_and_drops_inherited_role():
    from cockpit.remote.ssh import AuthorizedKey, child_env

    op = AuthorizedKey("SHA256:xyz", "bob", "viewer", 1, None)
    env = child_env(
        op,
        term="xterm-256color; rm -rf /",
        peer=("127.0.0.1", 5555),
        local=("127.0.0.1", 2222),
        base={"COCKPIT_ROLE": "trader", "COLUMNS": "80", "PATH": "/bin", "SSH_AUTH_SOCK": "/x"},
    )
    assert env["COCKPIT_ROLE"] == "viewer" and env["COCKPIT_OPERATOR"] == "ssh SHA256:xyz bob"
    assert env["TERM"] == "xterm-256color"  # a strange TERM from the client is not passed on
    assert "COLUMNS" not in env and "SSH_AUTH_SOCK" not in env and env["PATH"] == "/bin"
    assert env["SSH_CONNECTION"] == "127.0.0.1 5555 127.0.0.1 2222"


def test_serve_ssh_needs_authorized_keys(tmp_path, capsys):
    from cockpit.cli import main

    assert main(["--db", str(tmp_path / "c.db"), "serve-ssh"]) == 2
    assert "--authorized-keys" in capsys.readouterr().err
    empty = tmp_path / "ak"
    empty.write_text("# nobody\n")
    assert main(["--db", str(tmp_path / "c.db"), "serve-ssh", "--authorized-keys", str(empty)]) == 2
    assert "no usable key" in capsys.readouterr().err


def test_web_loopback_rules_and_command(tmp_path, capsys):
    from cockpit.cli import main
    from cockpit.remote.web import is_loopback, web_command

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.com")
    assert main(["--db", str(tmp_path / "c.db"), "serve-web", "--host", "0.0.0.0"]) == 2
    assert "--public" in capsys.readouterr().err
    cmd = web_command(["/usr/bin/python3", "-m", "cockpit", "--db", "sqlite:///a b.db", "--attach"], role="viewer")
    assert shlex.split(cmd) == [
        "exec",
        "env",
        "COCKPIT_ROLE=viewer",
        "COCKPIT_OPERATOR=web",
        "/usr/bin/python3",
        "-m",
        "cockpit",
        "--db",
        "sqlite:///a b.db",
        "--attach",
    ]
    with pytest.raises(ValueError):
        web_command(["x"], role="admin")

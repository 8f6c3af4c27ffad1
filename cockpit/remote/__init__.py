"""The cockpit for remote operators: ``cockpit serve-ssh`` and ``cockpit serve-web``.

Both run one ``python -m cockpit --attach`` child process per operator, over the database of a
running engine; a session that ends (or a connection that drops) ends only its own child.

    cockpit.remote.ssh   CockpitSSHServer, load_authorized_keys, ensure_host_key, serve_ssh
    cockpit.remote.web   build_web_server, serve_web

Nothing here is imported at CLI start-up: ``cockpit.commands.serve`` imports it lazily.
"""

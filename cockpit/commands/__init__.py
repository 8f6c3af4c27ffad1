"""The command line's subcommands, a surface on top of the core (one module per subcommand group, as
freqtrade's ``commands`` package): each module exposes ``register(subparsers)`` and handlers called as
``handler(args, ctx)`` that return an exit code. ``run`` is ``cockpit`` with no subcommand.

Modules import the core lazily inside their handlers, so ``cockpit --help`` stays light and never imports
Textual. Nothing in the core or the engine imports this package.
"""

"""One module per ``jinstruct`` subcommand: ``configure(parser)`` and ``run(args)``."""

"""Subcommands of ``edge-counter``: each module has ``add_arguments(parser)`` and ``run(args)``."""

"""patmatch: the foundation every package stands on (errors, settings, config plumbing).

It imports nothing from the project. The edges (HTTP, the ``patmatch`` command, reports)
live in ``api/``; the command line is ``api.cli``.
"""

__version__ = "0.1.0"

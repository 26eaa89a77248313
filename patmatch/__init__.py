"""patmatch: foundation (errors, settings) and the command-line edge.

Layering: ``patmatch.errors`` and ``patmatch.settings`` import nothing from the project
and may be imported by every package. ``patmatch.cli`` is the outermost edge (like
``api``) and imports the other packages lazily, inside its commands.
"""

__version__ = "0.1.0"

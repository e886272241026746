"""python -m gradlab -> the CLI."""

from gradlab.cli import entry

entry()

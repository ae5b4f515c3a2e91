"""``python -m detlint``: the same as the ``detlint`` command."""

from detlint.cli import main

main(prog_name="detlint")

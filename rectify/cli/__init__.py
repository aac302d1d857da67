"""The `rectify` command. `main` answers `--version` before loading anything (the command line itself,
with Typer and rich, is loaded for everything else)."""

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from rectify import __version__

        print(f"rectify {__version__}")
        return
    from rectify.cli.main import app

    app()

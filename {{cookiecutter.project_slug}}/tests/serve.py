"""Serve the project with one of the tests' logics: ``python -m tests.serve <name> [flags]``."""

from __future__ import annotations

import sys

from {{ cookiecutter.package_name }}.__main__ import main

from . import apps

if __name__ == "__main__":
    main(sys.argv[2:], logic=getattr(apps, sys.argv[1]))

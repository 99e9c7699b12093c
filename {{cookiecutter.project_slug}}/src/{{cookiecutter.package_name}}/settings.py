"""Every setting, the server's (``core/settings.py``) and your app's (``app/settings.py``), as one.

``python -m {{ cookiecutter.package_name }} --help`` lists them all.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from .app.settings import AppSettings
from .core.settings import ENV_PREFIX, ServerSettings, parse

__all__ = ["ENV_PREFIX", "Settings", "parse_settings"]


@dataclasses.dataclass(frozen=True)
class Settings(AppSettings, ServerSettings):
    """What the server is configured with; see ``--help`` for each field."""


def parse_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ
) -> Settings:
    """Build settings from defaults, then ``environ``, then ``argv`` (each overriding the last).

    A value that does not pass its check exits with status 2 and one line naming
    the flag, the variable and what was expected.
    """
    return parse(Settings, argv, environ)

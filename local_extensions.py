"""Jinja filters of this template; cookiecutter loads them through ``_extensions``."""

from __future__ import annotations

import json

from cookiecutter.utils import simple_filter

__all__ = ["toml_string"]


@simple_filter
def toml_string(value: object) -> str:
    """Quote ``value`` as a TOML basic string.

    JSON's escapes are TOML's too, but ``tojson`` writes characters beyond the
    Basic Multilingual Plane (emoji) as surrogate pairs, which TOML rejects; so
    non-ASCII stays as it is, and only DEL, the one control character JSON
    leaves raw, is escaped.
    """
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")

"""Trim the rendered project to the chosen options, then print the next steps.

Everything that belongs only to an option that is off is deleted here, so the
project holds no dead module, test or setting for it. No network, git or
other tool is needed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

__all__ = ["MULTI_SESSION_ONLY", "main", "remove_unused"]

# Paths (relative to the project) that exist only for multi-session support.
MULTI_SESSION_ONLY = (
    "src/{package}/sessions.py",
    "src/{package}/protocol.py",
    "src/{package}/replay.py",
    "tests/test_sessions.py",
    "tests/test_protocol.py",
    "tests/test_resume.py",
    "tests/resuming_client.py",
)


# Paths that exist only for the Redis scale-out option.
REDIS_ONLY = (
    "src/{package}/proxy_out_redis.py",
    "tests/redis_server.py",
    "tests/test_scale_out.py",
)


def remove_unused(project: Path, answers: dict[str, object]) -> list[Path]:
    """Delete the files of the options that are off; return what was deleted."""
    removed: list[Path] = []
    unused = [] if answers["multi_session"] else list(MULTI_SESSION_ONLY)
    if answers["scale_out"] != "redis":
        unused += REDIS_ONLY
    for pattern in unused:
        path = project / pattern.format(package=answers["package_name"])
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(path)
    return removed


def main() -> None:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    project = Path.cwd()
    remove_unused(project, answers)
    print(
        f"\nCreated {project.name}. Next steps:\n"
        f"  cd {project.name}\n"
        "  ./scripts/run     # creates .venv, installs, starts the server\n"
        "  ./scripts/test    # creates .venv, installs, runs ruff, mypy and pytest\n"
    )


if __name__ == "__main__":
    main()

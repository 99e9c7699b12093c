"""Trim the rendered project to the chosen options, then print the next steps.

Everything that belongs only to an option that is off is deleted here, so the
project holds no dead module, test or setting for it; of the license texts,
the chosen one becomes LICENSE and the others go. No network, git or other
tool is needed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

__all__ = ["LICENSE_TEXTS", "MULTI_SESSION_ONLY", "main", "place_license", "remove_unused"]

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


# The folder of license texts, <SPDX id>.txt, rendered with the author and the year.
LICENSE_TEXTS = "licenses"


def place_license(project: Path, license_id: str) -> Path | None:
    """Make the chosen license text the project's LICENSE and delete the others.

    Return the LICENSE file, or None for ``license=none``, which leaves no license file.
    """
    texts = project / LICENSE_TEXTS
    chosen = None
    if license_id != "none":
        chosen = (texts / f"{license_id}.txt").replace(project / "LICENSE")
    shutil.rmtree(texts)
    return chosen


def main() -> None:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    project = Path.cwd()
    remove_unused(project, answers)
    place_license(project, str(answers["license"]))
    print(
        f"\nCreated {project.name}. Next steps:\n"
        f"  cd {project.name}\n"
        "  ./scripts/run     # creates .venv, installs, starts the server\n"
        "  ./scripts/test    # creates .venv, installs, runs ruff, mypy and pytest\n"
    )


if __name__ == "__main__":
    main()

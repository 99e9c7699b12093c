"""Shape the rendered project to the chosen options, then print the next steps.

Code that only some options need lives in option folders, which are the map
of which option brings which file: ``<dir>/_options/<option>-<value>/<path>``
is moved to ``<dir>/<path>`` when the answer to ``<option>`` is ``<value>``
(``true``/``false`` for yes/no questions), and deleted otherwise. So the
project holds no dead module, test or setting for an option that is off,
and shared files need no conditional for it. Of the license texts, the
chosen one becomes LICENSE and the others go. No network, git or other tool
is needed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

__all__ = ["LICENSE_TEXTS", "OPTIONS", "main", "option_folder", "place_license", "place_options"]

OPTIONS = "_options"  # the name of every folder of option folders


def option_folder(option: str, answer: object) -> str:
    """The name of the folder that holds what ``option`` brings for ``answer``."""
    value = json.dumps(answer) if isinstance(answer, bool) else str(answer)
    return f"{option}-{value}"


def place_options(project: Path, answers: dict[str, object]) -> list[Path]:
    """Move the chosen option folders' files into place, delete the rest; return what was placed."""
    chosen = {option_folder(option, answer) for option, answer in answers.items()}
    placed: list[Path] = []
    for options in sorted(project.rglob(OPTIONS), reverse=True):  # the deepest first
        for folder in sorted(options.iterdir()):
            if folder.name not in chosen:
                continue
            for source in sorted(path for path in folder.rglob("*") if path.is_file()):
                target = options.parent / source.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                placed.append(source.replace(target))
        shutil.rmtree(options)
    return placed


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
    place_options(project, answers)
    place_license(project, str(answers["license"]))
    print(
        f"\nCreated {project.name}. Next steps:\n"
        f"  cd {project.name}\n"
        "  ./scripts/run     # creates .venv, installs, starts the server\n"
        "  ./scripts/test    # creates .venv, installs, runs ruff, mypy and pytest\n"
    )


if __name__ == "__main__":
    main()

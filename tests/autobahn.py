"""Autobahn|Testsuite for the conformance run: a Python 2.7 to run it on, its venv, its report.

The suite's fuzzing client (``wstest``, PyPI ``autobahntestsuite``) runs on
Python 2.7 only. :func:`find_python27` looks for one; :func:`prepare_wstest`
makes (once, cached under ``.cache/autobahn``) a 2.7 virtualenv holding it,
with ``virtualenv<20.22`` (the last that makes 2.7 environments) installed in
a venv of its own; :func:`run_fuzzingclient` runs it against a server and
:func:`read_report` reads the outcome of each case from its ``index.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .baking import REPO, Venv, prepare_venv, run

__all__ = [
    "AUTOBAHN_CACHE",
    "REPORT_DIR",
    "WSTEST_REQUIREMENTS",
    "CaseResult",
    "Python27",
    "case_key",
    "counts",
    "find_python27",
    "prepare_wstest",
    "read_report",
    "run_fuzzingclient",
]

AUTOBAHN_CACHE = REPO / ".cache" / "autobahn"
REPORT_DIR = AUTOBAHN_CACHE / "report"  # CI keeps it as an artifact (.github/workflows/ci.yml)
# virtualenv 20.22 dropped making Python 2.7 environments; it runs here on the tests' Python 3.
VIRTUALENV = "virtualenv<20.22"
# Everything the fuzzing client needs, pinned: these are the last releases that install and run
# on Python 2.7 (pip 20.3.4's resolver picked them, then `wstest -m fuzzingclient` ran with them).
WSTEST_REQUIREMENTS = (
    "autobahntestsuite==25.10.1",
    "autobahn==0.10.9",
    "Automat==22.10.0",
    "PyHamcrest==1.10.1",
    "Twisted==19.10.0",
    "Werkzeug==1.0.1",
    "argparse==1.4.0",
    "attrs==21.4.0",
    "cffi==1.15.1",
    "constantly==15.1.0",
    "cryptography==3.3.2",
    "enum34==1.1.10",
    "hyperlink==21.0.0",
    "idna==2.10",
    "incremental==16.10.1",
    "ipaddress==1.0.23",
    "jinja2==2.11.3",
    "klein==17.10.0",
    "linecache2==1.0.0",
    "markupsafe==1.1.1",
    "pyOpenSSL==19.1.0",
    "pyasn1==0.5.1",
    "pyasn1-modules==0.3.0",
    "pycparser==2.21",
    "service-identity==18.1.0",
    "setuptools==44.0.0",
    "six==1.16.0",
    "traceback2==1.4.0",
    "txaio==2.1.0",
    "typing==3.10.0.0",
    "ujson==2.0.3",
    "unittest2==1.1.0",
    "wsaccel==0.6.6",
    "zope.interface==4.6.0",
)
PROBE = "import sys; sys.stdout.write('%d.%d.%d' % sys.version_info[:3])"
PROBE_TIMEOUT = 30.0
BUILD_TIMEOUT = 900.0


@dataclass(frozen=True)
class Python27:
    """A Python 2.7 interpreter that answered, and its full version."""

    path: Path
    version: str


def _pyenv_roots() -> Iterator[Path]:
    """Where pyenv keeps its versions: what ``pyenv root`` says, ``$PYENV_ROOT``, ``~/.pyenv``."""
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        try:
            answer = subprocess.run(
                [pyenv, "root"],
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            pass
        else:
            if answer.returncode == 0 and answer.stdout.strip():
                yield Path(answer.stdout.strip())
    if os.environ.get("PYENV_ROOT"):
        yield Path(os.environ["PYENV_ROOT"])
    yield Path.home() / ".pyenv"


def _version_key(path: Path) -> tuple[int, ...]:
    """``.../versions/2.7.18/bin/python`` -> (2, 7, 18), so 2.7.18 sorts after 2.7.9."""
    parts = path.parent.parent.name.split(".")
    return tuple(int(part) if part.isdigit() else -1 for part in parts)


def _candidates() -> Iterator[Path]:
    """``$PYTHON2``, then ``python2.7`` on PATH, then each pyenv 2.7.x, newest first."""
    if os.environ.get("PYTHON2"):
        yield Path(os.environ["PYTHON2"])
    on_path = shutil.which("python2.7")
    if on_path is not None:
        yield Path(on_path)
    for root in _pyenv_roots():
        yield from sorted(root.glob("versions/2.7.*/bin/python"), key=_version_key, reverse=True)


def _probe(candidate: Path) -> str:
    """The version ``candidate`` reports, or why it reports none (a pyenv shim may refuse)."""
    try:
        answer = subprocess.run(
            [str(candidate), "-c", PROBE],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"does not run: {error}"
    if answer.returncode != 0:
        lines = (answer.stderr or answer.stdout).strip().splitlines()
        return f"exits {answer.returncode}: {lines[0] if lines else ''}"
    return answer.stdout.strip()


def find_python27() -> tuple[Python27 | None, list[str]]:
    """The first candidate that runs as Python 2.7, and what was tried (for a skip's reason)."""
    tried: list[str] = []
    seen: set[Path] = set()
    for candidate in _candidates():
        if candidate in seen:
            continue
        seen.add(candidate)
        version = _probe(candidate)
        if version.startswith("2.7."):
            return Python27(candidate, version), tried
        tried.append(f"{candidate}: {version}")
    return None, tried


def _stamped(path: Path, key: str) -> bool:
    stamp = path / "ws-boilerplate.key"
    return stamp.exists() and stamp.read_text() == key


def prepare_wstest(python27: Python27) -> Venv:
    """The 2.7 virtualenv with ``wstest``, made unless one exists for the same Python and pins."""
    builder = prepare_venv([VIRTUALENV], AUTOBAHN_CACHE / "virtualenv")
    path = AUTOBAHN_CACHE / "wstest-venv"
    key = hashlib.sha256(
        json.dumps(
            [str(python27.path), python27.version, VIRTUALENV, list(WSTEST_REQUIREMENTS)]
        ).encode()
    ).hexdigest()
    venv = Venv(path)
    if (path / "bin" / "wstest").exists() and _stamped(path, key):
        return venv
    shutil.rmtree(path, ignore_errors=True)
    created = run(
        [
            builder.python,
            "-m",
            "virtualenv",
            "--quiet",
            "--no-periodic-update",
            "--app-data",
            AUTOBAHN_CACHE / "virtualenv-app-data",
            "--python",
            python27.path,
            path,
        ],
        cwd=REPO,
        env=builder.environ(),
        timeout=BUILD_TIMEOUT,
    )
    assert created.returncode == 0, created.stdout
    pip = ("-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    installed = run(
        [venv.python, *pip, "--no-python-version-warning", *WSTEST_REQUIREMENTS],
        cwd=REPO,
        env=venv.environ(),
        timeout=BUILD_TIMEOUT,
    )
    assert installed.returncode == 0, installed.stdout
    assert (path / "bin" / "wstest").exists(), installed.stdout
    (path / "ws-boilerplate.key").write_text(key)
    return venv


def run_fuzzingclient(
    wstest: Venv,
    agent: str,
    url: str,
    cases: Sequence[str],
    outdir: Path,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """Run ``wstest -m fuzzingclient`` on ``cases`` against ``url``; its report goes to ``outdir``.

    The spec and the client's output (``wstest.log``) go there too.
    """
    spec = {
        "outdir": str(outdir),
        "servers": [{"agent": agent, "url": url}],
        "cases": list(cases),
        "exclude-cases": [],
        "exclude-agent-cases": {},
    }
    (outdir / "spec.json").write_text(json.dumps(spec, indent=2) + "\n")
    result = run(
        [wstest.path / "bin" / "wstest", "--mode", "fuzzingclient", "--spec", "spec.json"],
        cwd=outdir,
        env=wstest.environ(),
        timeout=timeout,
    )
    (outdir / "wstest.log").write_text(result.stdout)
    return result


@dataclass(frozen=True)
class CaseResult:
    """One case of the report: the suite's verdicts, and what it says about them."""

    id: str
    behavior: str  # OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED or FAILED
    behavior_close: str  # OK, INFORMATIONAL, FAILED, WRONG CODE, ...
    remote_close_code: int | None  # the code the server closed with
    remote_close_reason: str | None
    description: str
    expectation: str
    result: str
    result_close: str

    def describe(self) -> str:
        return (
            f"{self.id}: behavior={self.behavior} close={self.behavior_close}"
            f" server close code={self.remote_close_code} reason={self.remote_close_reason!r}\n"
            f"    case: {_one_line(self.description)}\n"
            f"    expected: {_one_line(self.expectation)}\n"
            f"    result: {_one_line(self.result)} / {_one_line(self.result_close)}"
        )


def _one_line(text: str) -> str:
    return " ".join(text.replace("<br>", " ").split())


def case_key(case_id: str) -> tuple[int, ...]:
    """``7.9.10`` sorts after ``7.9.9``."""
    return tuple(int(part) for part in case_id.split("."))


def read_report(outdir: Path, agent: str) -> list[CaseResult]:
    """Every case the report holds for ``agent``, in the suite's order."""
    index: dict[str, dict[str, dict[str, Any]]] = json.loads((outdir / "index.json").read_text())
    cases = index.get(agent, {})
    results = []
    for case_id in sorted(cases, key=case_key):
        summary = cases[case_id]
        detail: dict[str, Any] = json.loads((outdir / summary["reportfile"]).read_text())
        results.append(
            CaseResult(
                id=case_id,
                behavior=summary["behavior"],
                behavior_close=summary["behaviorClose"],
                remote_close_code=summary.get("remoteCloseCode"),
                remote_close_reason=detail.get("remoteCloseReason"),
                description=str(detail.get("description", "")),
                expectation=str(detail.get("expectation", "")),
                result=str(detail.get("result", "")),
                result_close=str(detail.get("resultClose", "")),
            )
        )
    return results


def counts(values: Iterable[str]) -> str:
    """``OK: 231, NON-STRICT: 4``: how often each value occurs, most frequent first."""
    tally: dict[str, int] = {}
    for value in values:
        tally[value] = tally.get(value, 0) + 1
    return ", ".join(f"{value}: {n}" for value, n in sorted(tally.items(), key=lambda i: -i[1]))

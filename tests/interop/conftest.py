"""Shared fixtures for owl's Python interop tests.

The tests run the built `owl` binary and compare what it reads and writes with the reference
`safetensors` package. The binary is taken from $OWL_BIN, else <repo>/build/bin/owl.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))  # lets the test modules import stutil

OWL_TIMEOUT_S = 60


@dataclass
class OwlResult:
    returncode: int
    stdout: str
    stderr: str
    argv: list

    def describe(self) -> str:
        return (f"command: {' '.join(self.argv)}\nexit: {self.returncode}\n"
                f"stdout: {self.stdout[:2000]!r}\nstderr: {self.stderr[:2000]!r}")


@pytest.fixture(scope="session")
def owl_bin() -> Path:
    env = os.environ.get("OWL_BIN")
    path = Path(env) if env else REPO / "build" / "bin" / "owl"
    if not path.is_file() or not os.access(path, os.X_OK):
        source = "$OWL_BIN" if env else "the default location"
        pytest.fail(f"owl binary not found or not executable at {path} ({source}); build it "
                    f"first (cmake -S . -B build && cmake --build build) or set OWL_BIN",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def owl(owl_bin):
    """owl(*args) runs the binary and returns an OwlResult (returncode, stdout, stderr)."""

    def run(*args, timeout=OWL_TIMEOUT_S) -> OwlResult:
        argv = [str(owl_bin)] + [str(a) for a in args]
        try:
            p = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.fail(f"owl did not finish within {timeout} s: {' '.join(argv)}")
        return OwlResult(p.returncode, p.stdout.decode("utf-8", "replace"),
                         p.stderr.decode("utf-8", "replace"), argv)

    run.binary = owl_bin
    return run


@pytest.fixture
def in_dir(tmp_path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    return d


@pytest.fixture
def out_dir(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d

"""A mistyped command line gets the same kind of one-line error as bad input: `owl: error:`,
then where to find help, and exit code 64; asking for help still prints it unchanged."""

from pathlib import Path

import pytest

STORIES = Path(__file__).resolve().parents[2] / "tests" / "data" / "stories260K" / "stories260K.bin"
USAGE_EXIT = 64


@pytest.mark.parametrize("argv, says, help_for", [
    (["convert", STORIES], "--output is required", "owl convert"),
    (["validate", STORIES], "test is required", "owl validate"),
    (["inspect", STORIES, "--max-tensors", "many"], "--max-tensors", "owl inspect"),
    (["quantize", STORIES, "-o", "x.gguf", "-t", "Q4_K_M", "--no-such-flag"], "--no-such-flag",
     "owl quantize"),
    ([], "subcommand is required", "owl"),
    (["frobnicate"], "subcommand is required", "owl"),
])
def test_cli_errors_read_like_owl_errors(owl, argv, says, help_for):
    r = owl(*argv)
    assert r.returncode == USAGE_EXIT, r.describe()
    lines = r.stderr.splitlines()
    assert lines and lines[0].startswith("owl: error: ") and says in lines[0], r.describe()
    assert f"'{help_for} --help'" in r.stderr, r.describe()
    assert r.stdout == "", r.describe()


@pytest.mark.parametrize("argv", [["--help"], ["convert", "--help"], ["validate", "-h"]])
def test_help_is_printed_as_before(owl, argv):
    r = owl(*argv)
    assert r.returncode == 0, r.describe()
    assert r.stdout.startswith(("owl (open-weights lab)", "Run the original", "Convert")) or \
        "Usage:" in r.stdout, r.describe()
    assert "error" not in r.stderr, r.describe()


def test_version(owl):
    r = owl("--version")
    assert r.returncode == 0 and r.stdout.startswith("owl "), r.describe()


def test_missing_output_folder_is_named(owl, tmp_path):
    """README's `-o out/model.safetensors` needs out/ to exist (the README says mkdir -p out):
    when it does not, one error line names the folder, and no file is left behind."""
    missing = tmp_path / "out"
    r = owl("convert", STORIES, "-o", missing / "model.safetensors", "--quiet")
    assert r.returncode != 0, r.describe()
    line = r.stderr.strip()
    assert line.startswith("owl: error: ") and "\n" not in line, r.describe()
    assert str(missing) in line, r.describe()
    assert not missing.exists()

"""owl quantize --resume (issue 17): a run killed with SIGKILL midway leaves its kept temporary
and journal but no output; the same command again checks what the journal vouches for, writes
the rest, and the file equals an uninterrupted run's byte for byte. A damaged journal entry or
tensor is written again; a journal from another recipe is refused."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from synth_llama import make_llama

MIX = "Q4_K_M"
KILL_AFTER = 3  # journal entries before the kill


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_llama(tmp_path_factory.mktemp("synth") / "llama")


@pytest.fixture(scope="module")
def reference(owl, model, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.gguf"
    r = owl("quantize", model, "-o", out, "-t", MIX, "-q")
    assert r.returncode == 0, r.describe()
    return out.read_bytes()


def journal_of(out: Path) -> Path:
    return out.parent / f".{out.name}.owl-journal"


def partial_of(out: Path) -> Path:
    return out.parent / f".{out.name}.owl-partial"


def entries(out: Path):
    try:
        lines = journal_of(out).read_text(errors="replace").split("\n")[1:]
    except FileNotFoundError:
        return []
    return [line for line in lines if line.startswith("t ")]


def kill_midway(owl, model, out, *extra):
    """Starts a resumable run and SIGKILLs it once KILL_AFTER tensors are journaled."""
    argv = [str(owl.binary), "quantize", str(model), "-o", str(out), "-t", MIX, "--resume",
            "--threads", "1", "-q", *map(str, extra)]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(entries(out)) < KILL_AFTER and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL, "the run finished before it could be killed midway"
    done = len(entries(out))
    assert KILL_AFTER <= done, done
    assert not out.exists(), "a killed run left an output behind"
    assert partial_of(out).exists() and journal_of(out).exists()
    return done


def resume(owl, model, out, *extra):
    r = owl("quantize", model, "-o", out, "-t", MIX, "--resume", *extra)
    assert r.returncode == 0, r.describe()
    assert not journal_of(out).exists() and not partial_of(out).exists()
    return r


def test_killed_run_resumes_to_the_same_bytes(owl, model, reference, tmp_path):
    out = tmp_path / "out.gguf"
    done = kill_midway(owl, model, out)
    r = resume(owl, model, out)
    assert f"resuming: {done} tensors already written and checked" in r.stderr
    assert out.read_bytes() == reference


def test_damaged_entries_and_bytes_are_written_again(owl, model, reference, tmp_path):
    out = tmp_path / "out.gguf"
    kill_midway(owl, model, out)
    lines = journal_of(out).read_bytes().split(b"\n")
    # Entry 1: its tensor's bytes in the temporary are altered (the journal line is intact).
    _, _, offset, size, *_ = lines[1].split(b" ")
    with open(partial_of(out), "r+b") as f:
        f.seek(int(offset) + int(size) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    # Entry 2: the journal line itself is altered (its own check fails).
    lines[2] = lines[2].replace(b" ", b"  ", 1)
    journal_of(out).write_bytes(b"\n".join(lines))
    r = resume(owl, model, out)
    assert "journal entries that do not check out are redone" in r.stderr, r.stderr
    assert out.read_bytes() == reference


def test_journal_of_another_recipe_is_refused(owl, model, tmp_path):
    out = tmp_path / "out.gguf"
    kill_midway(owl, model, out)
    journal = journal_of(out).read_bytes()
    r = owl("quantize", model, "-o", out, "-t", "Q8_0", "--resume")
    assert r.returncode == 64, r.describe()
    assert "resume journal was written for a different input, recipe" in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("owl: error:")]
    assert len(errors) == 1 and str(journal_of(out)) in errors[0], r.stderr
    assert not out.exists() and journal_of(out).read_bytes() == journal


def test_a_resumable_run_uninterrupted_writes_the_plain_bytes(owl, model, reference, tmp_path):
    out = tmp_path / "out.gguf"
    resume(owl, model, out)
    assert out.read_bytes() == reference
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())

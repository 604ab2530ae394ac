"""mpirun -np N owl quantize (issue 17): every rank plans alike, writes its share of the tensors
into the one temporary, rank 0 writes the header and commits; the bytes equal a plain run's for
1, 2 and 3 ranks, for a dense and a mixture-of-experts model, split or not. A rank killed midway
takes the job down with no output left, and --resume then finishes with the same bytes.

Skipped when mpirun is missing or owl was built without MPI (CI installs Open MPI, so they run
there)."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from synth_llama import make_llama

DATA = Path(__file__).resolve().parent.parent / "data"
MODELS = {"dense": DATA / "hf" / "tiny-llama3", "moe": DATA / "hf" / "tiny-qwen3moe"}
MIX = "Q4_K_M"
MPI_TIMEOUT_S = 120

# Open MPI refuses root unless told, and in containers its shared-memory transport may not be
# able to use cross-memory attach; neither changes what owl computes.
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_btl_vader_single_copy_mechanism": "none", "OMPI_MCA_rmaps_base_oversubscribe": "1"}


def mpirun_argv(owl, ranks, *args):
    return ["mpirun", "-np", str(ranks), "--oversubscribe", str(owl.binary), *map(str, args)]


def run_mpi(owl, ranks, *args, env=None):
    p = subprocess.run(mpirun_argv(owl, ranks, *args), capture_output=True, text=True,
                       timeout=MPI_TIMEOUT_S, env={**os.environ, **MPI_ENV, **(env or {})},
                       stdin=subprocess.DEVNULL)
    return p


@pytest.fixture(scope="module")
def mpi(owl, tmp_path_factory):
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun is not installed (apt-get install openmpi-bin)")
    out = tmp_path_factory.mktemp("probe") / "probe.gguf"
    p = run_mpi(owl, 2, "quantize", MODELS["dense"], "-o", out, "-t", "Q8_0", "-q")
    if "built without MPI" in p.stderr:
        pytest.skip("owl was built without MPI (install libopenmpi-dev and rebuild)")
    assert p.returncode == 0, p.stderr
    return True


def plain(owl, model, out, *extra):
    r = owl("quantize", model, "-o", out, "-t", MIX, "-q", *extra)
    assert r.returncode == 0, r.describe()


def files_of(folder: Path):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("kind", ["dense", "moe"])
@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_ranks_write_the_plain_bytes(owl, mpi, kind, ranks, tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "mpi").mkdir()
    plain(owl, MODELS[kind], tmp_path / "plain" / "m.gguf")
    p = run_mpi(owl, ranks, "quantize", MODELS[kind], "-o", tmp_path / "mpi" / "m.gguf", "-t",
                MIX, "-q")
    assert p.returncode == 0, p.stderr
    assert files_of(tmp_path / "mpi") == files_of(tmp_path / "plain")


def test_split_output_across_ranks(owl, mpi, tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "mpi").mkdir()
    split = ("--split-max-size", "150K")  # tiny-qwen3moe: about 600 KB in Q4_K_M
    plain(owl, MODELS["moe"], tmp_path / "plain" / "m.gguf", *split)
    # Messages between ranks cut into pieces of 100 bytes (1 GiB in use) change nothing either.
    p = run_mpi(owl, 3, "quantize", MODELS["moe"], "-o", tmp_path / "mpi" / "m.gguf", "-t", MIX,
                "-q", *split, env={"OWL_MPI_PIECE_BYTES": "100"})
    assert p.returncode == 0, p.stderr
    assert files_of(tmp_path / "mpi") == files_of(tmp_path / "plain")


def rank_pid(marker, rank, deadline):
    """The pid of the owl process of this test (marked by an environment variable) and rank."""
    while time.monotonic() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in env and f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
                return int(pid)
        time.sleep(0.01)
    raise AssertionError(f"no rank {rank} process appeared")


def journaled(out: Path):
    try:
        return (out.parent / f".{out.name}.owl-journal").read_text(errors="replace").count("\nt ")
    except FileNotFoundError:
        return 0


def temporaries(folder: Path):
    """The random-name temporaries of a run without --resume (rank 0's PID in the name)."""
    return [p for p in folder.iterdir() if p.name.endswith(".owl-tmp")]


@pytest.fixture(scope="module")
def big(owl, tmp_path_factory):
    """A model that takes long enough to kill a rank midway, and its plain quantization."""
    root = tmp_path_factory.mktemp("big")
    model = make_llama(root / "llama")
    (root / "plain").mkdir()
    plain(owl, model, root / "plain" / "m.gguf")
    return model, files_of(root / "plain")


@pytest.mark.parametrize("resumable", [False, True])
def test_a_killed_rank_fails_the_job_and_leaves_no_output(owl, mpi, big, resumable, tmp_path):
    model, expected = big
    folder = tmp_path / "mpi"
    folder.mkdir()
    out = folder / "m.gguf"
    marker = f"OWL_TEST_MARKER={tmp_path.name}".encode()
    extra = ["--resume"] if resumable else []
    p = subprocess.Popen(mpirun_argv(owl, 2, "quantize", model, "-o", out, "-t", MIX, "-q",
                                     "--threads", "1", *extra),
                         env={**os.environ, **MPI_ENV, "OWL_TEST_MARKER": tmp_path.name},
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + MPI_TIMEOUT_S
    victim = rank_pid(marker, 1, deadline)
    partial = folder / ".m.gguf.owl-partial"
    while p.poll() is None and time.monotonic() < deadline:
        if (journaled(out) >= 2) if resumable else temporaries(folder):
            break
        time.sleep(0.001)
    os.kill(victim, signal.SIGKILL)
    p.communicate(timeout=MPI_TIMEOUT_S)
    assert p.returncode != 0
    assert not out.exists()
    if not resumable:
        assert list(folder.iterdir()) == []
        return
    assert partial.exists()
    r = run_mpi(owl, 3, "quantize", model, "-o", out, "-t", MIX, "--resume")
    assert r.returncode == 0, r.stderr
    assert "resuming:" in r.stderr
    assert files_of(folder) == expected


def pid_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_job_killed_outright_leaves_what_the_next_run_sweeps(owl, mpi, big, tmp_path):
    """Every rank SIGKILLed at once (a scheduler's kill, a lost node): no process is left to
    remove the temporary, which carries rank 0's PID like a single process's, so the next run
    into the folder removes it and writes the same bytes."""
    model, expected = big
    folder = tmp_path / "mpi"
    folder.mkdir()
    out = folder / "m.gguf"
    marker = f"OWL_TEST_MARKER={tmp_path.name}".encode()
    p = subprocess.Popen(mpirun_argv(owl, 2, "quantize", model, "-o", out, "-t", MIX, "-q",
                                     "--threads", "1"),
                         env={**os.environ, **MPI_ENV, "OWL_TEST_MARKER": tmp_path.name},
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + MPI_TIMEOUT_S
    ranks = [rank_pid(marker, r, deadline) for r in (0, 1)]
    while p.poll() is None and time.monotonic() < deadline and not temporaries(folder):
        time.sleep(0.001)
    for pid in ranks:
        os.kill(pid, signal.SIGKILL)
    p.communicate(timeout=MPI_TIMEOUT_S)
    assert p.returncode != 0
    left = temporaries(folder)
    assert len(left) == 1 and f".m.gguf.{ranks[0]}-" in left[0].name
    assert not out.exists() and not (folder / ".m.gguf.owl-partial").exists()
    # A killed rank whose launcher is gone waits as a zombie until init reaps it, and a zombie's
    # PID still answers kill(pid, 0): the sweep rightly keeps what a live PID owns.
    while any(pid_exists(pid) for pid in ranks) and time.monotonic() < deadline:
        time.sleep(0.01)
    plain(owl, model, out)
    assert files_of(folder) == expected

"""mpirun -np N owl imatrix / owl validate (issue 17): the chunks shared by the ranks (every rank
runs the whole model), or with --pipeline the layers split over them (each rank reads only its
layers and passes the hidden states on). Rank 0 takes every chunk's result in chunk order, so the
importance matrix (and its periodic saves) are byte-identical to a plain run's, and validate's
figures (summary, per-token histogram in the HTML report, per-tensor errors) and imatrix's
per-chunk perplexities are the same, for 1, 2 and 3 ranks, on a dense and a mixture-of-experts
model. A rank killed midway fails the job and leaves no output.

Skipped when mpirun is missing or owl was built without MPI (the `mpi` fixture of
test_mpi_quantize)."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import gguf_util as gu
from synth_llama import make_llama
from test_mpi_quantize import (MODELS, MPI_ENV, MPI_TIMEOUT_S, mpi,  # noqa: F401 (a fixture)
                               mpirun_argv, rank_pid, run_mpi)

CTX = 32
CHUNKS = 7  # not a multiple of 2 or 3, so the last round leaves ranks idle
MODES = {"data": (), "pipeline": ("--pipeline",)}


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    path = tmp_path_factory.mktemp("mpi_text") / "story.txt"
    path.write_text((gu.STORIES / "story.txt").read_text() * 8)
    return path


@pytest.fixture(scope="module")
def quantized(owl, tmp_path_factory):
    """Each model in Q4_K_M, the test side of validate."""
    root = tmp_path_factory.mktemp("mpi_quantized")
    out = {}
    for kind, model in MODELS.items():
        out[kind] = root / f"{kind}.gguf"
        r = owl("quantize", model, "-o", out[kind], "-t", "Q4_K_M", "-q")
        assert r.returncode == 0, r.describe()
    return out


def imatrix_args(model, text, out):
    # Saves every 2 chunks and rewrites every 3: a pipeline drains at each, a data-parallel
    # rank 0 writes them between rounds.
    return ["imatrix", model, "--text", text, "-o", out, "--ctx", CTX, "--chunks", CHUNKS,
            "--process-output", "--save-frequency", 2, "--output-frequency", 3]


def files_of(folder: Path):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def plain_imatrix(owl, text, tmp_path_factory):
    """{kind: (files, stdout)} of plain single-process runs."""
    out = {}
    for kind, model in MODELS.items():
        folder = tmp_path_factory.mktemp(f"plain_imatrix_{kind}")
        r = owl(*imatrix_args(model, text, folder / "m.imatrix.gguf"), timeout=120)
        assert r.returncode == 0, r.describe()
        assert "[7]" in r.stdout and "Final estimate" in r.stdout
        out[kind] = (files_of(folder), r.stdout)
    return out


@pytest.mark.parametrize("ranks", [1, 2, 3])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("kind", list(MODELS))
def test_imatrix_ranks_write_the_plain_bytes(owl, mpi, text, plain_imatrix, kind, mode, ranks,
                                            tmp_path):
    files, stdout = plain_imatrix[kind]
    p = run_mpi(owl, ranks, *imatrix_args(MODELS[kind], text, tmp_path / "m.imatrix.gguf"),
                *MODES[mode])
    assert p.returncode == 0, p.stderr
    got = files_of(tmp_path)
    assert sorted(got) == sorted(files)  # the matrix and its .at_2/.at_4/.at_6 saves
    assert got == files
    assert p.stdout == stdout  # each chunk's perplexity and the final estimate, printed once


# Every message between ranks travels as its length and then pieces of at most 1 GiB (MPI's
# counts are int); a piece of 1000 bytes cuts the hidden states, the scores and the gathered
# sums here into many, and the files must not change.
PIECES = {"OWL_MPI_PIECE_BYTES": "1000"}


@pytest.mark.parametrize("mode", list(MODES))
def test_messages_in_pieces_give_the_same_imatrix(owl, mpi, text, plain_imatrix, mode, tmp_path):
    files, stdout = plain_imatrix["moe"]
    p = run_mpi(owl, 3, *imatrix_args(MODELS["moe"], text, tmp_path / "m.imatrix.gguf"),
                *MODES[mode], env=PIECES)
    assert p.returncode == 0, p.stderr
    assert files_of(tmp_path) == files
    assert p.stdout == stdout


def test_plain_pipeline_is_the_plain_pass(owl, text, plain_imatrix, tmp_path):
    files, _ = plain_imatrix["moe"]
    r = owl(*imatrix_args(MODELS["moe"], text, tmp_path / "m.imatrix.gguf"), "--pipeline",
            timeout=120)
    assert r.returncode == 0, r.describe()
    assert files_of(tmp_path) == files


def validate_args(ref, test, text, folder):
    return ["validate", ref, test, "--text", text, "--ctx", CTX, "--chunks", CHUNKS, "--json",
            folder / "v.json", "--report", folder / "v.html", "-q"]


@pytest.fixture(scope="module")
def plain_validate(owl, text, quantized, tmp_path_factory):
    out = {}
    for kind, model in MODELS.items():
        folder = tmp_path_factory.mktemp(f"plain_validate_{kind}")
        r = owl(*validate_args(model, quantized[kind], text, folder), timeout=120)
        assert r.returncode == 0, r.describe()
        out[kind] = (files_of(folder), r.stdout)
    return out


@pytest.mark.parametrize("ranks", [1, 2, 3])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("kind", list(MODELS))
def test_validate_ranks_report_the_plain_figures(owl, mpi, text, quantized, plain_validate, kind,
                                                 mode, ranks, tmp_path):
    files, stdout = plain_validate[kind]
    p = run_mpi(owl, ranks, *validate_args(MODELS[kind], quantized[kind], text, tmp_path),
                *MODES[mode])
    assert p.returncode == 0, p.stderr
    assert b'"tokens_scored": 105' in files["v.json"]  # 7 chunks of 15 scored positions
    assert files_of(tmp_path) == files
    assert p.stdout == stdout


def test_messages_in_pieces_give_the_same_validation(owl, mpi, text, quantized, plain_validate,
                                                     tmp_path):
    files, stdout = plain_validate["dense"]
    p = run_mpi(owl, 3, *validate_args(MODELS["dense"], quantized["dense"], text, tmp_path),
                "--pipeline", env=PIECES)
    assert p.returncode == 0, p.stderr
    assert files_of(tmp_path) == files
    assert p.stdout == stdout


def test_pipeline_refuses_stored_reference_logits(owl, mpi, text, quantized, tmp_path):
    p = run_mpi(owl, 2, "validate", MODELS["dense"], quantized["dense"], "--text", text, "--ctx",
                CTX, "--save-ref", tmp_path / "ref.zst", "--pipeline")
    assert p.returncode != 0
    assert "--save-ref and --ref-logits need the whole pass in one process" in p.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A model whose pass over the text takes long enough to kill a rank midway."""
    return make_llama(tmp_path_factory.mktemp("mpi_big") / "llama")


@pytest.mark.parametrize("command", ["imatrix", "validate"])
@pytest.mark.parametrize("mode", list(MODES))
def test_a_killed_rank_fails_the_job_and_leaves_no_output(owl, mpi, big, text, command, mode,
                                                         tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    if command == "imatrix":
        args = ["imatrix", big, "--text", text, "-o", folder / "m.imatrix.gguf", "--ctx", 64,
                "--output-frequency", 1000000, "--threads", 1]
    else:
        args = ["validate", big, big, "--text", text, "--ctx", 64, "--json", folder / "v.json",
                "--report", folder / "v.html", "--no-tensors"]
    marker = f"OWL_TEST_MARKER={tmp_path.name}".encode()
    p = subprocess.Popen(mpirun_argv(owl, 2, *args, *MODES[mode]),
                         env={**os.environ, **MPI_ENV, "OWL_TEST_MARKER": tmp_path.name},
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    victim = rank_pid(marker, 1, time.monotonic() + MPI_TIMEOUT_S)
    time.sleep(1.0)  # past opening the model, into the chunks
    assert p.poll() is None, "the job ended before a rank could be killed midway"
    os.kill(victim, signal.SIGKILL)
    p.communicate(timeout=MPI_TIMEOUT_S)
    assert p.returncode != 0
    assert list(folder.iterdir()) == []

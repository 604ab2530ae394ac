"""Hostile and broken PyTorch checkpoints (tests/data/pytorch/make_malicious.py) are refused:
exit status 2, one line naming the file (and, for a pickle that calls something off the
allow-list, the global), no output file, the input unchanged, and proof that no command ran:
every payload would `touch` a marker file of its own under the test's tmp_path if it were
executed, and the marker is not there afterwards.

The payloads are never unpickled here: pickletools only decodes their opcodes, to show that
each one is a well-formed pickle that really does reach the global it names."""

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import stutil as su
from pickle_util import referenced_globals

DATA = Path(__file__).resolve().parent.parent / "data" / "pytorch"
sys.path.insert(0, str(DATA))
import make_malicious as mm  # noqa: E402

FILES = mm.build_all()
HOSTILE = sorted(n for n, (_, refused) in FILES.items() if refused)
BROKEN = sorted(n for n, (_, refused) in FILES.items() if not refused)
# Files run only under test_refused_quickly_in_bounded_memory's limits: a reader without the
# right limit spends minutes and gigabytes on them, which a test suite must not.
BOUNDED_ONLY = {"shared_tuples.zip.pt", "shared_tuples.legacy.pt"}
OUTPUTS = ["out.safetensors", "out.gguf"]
# Inputs the fuzzers found slow or crashing (tools/fuzz.sh), as checkpoints owl can be run on;
# the raw fuzzer inputs (*.data.pkl, data.pkl for fuzz_zip_pickle) lie beside them.
REGRESSIONS = sorted((DATA / "fuzz_regressions").glob("*.pt"))
# A refusal of a file of a few hundred bytes takes at most this long and this much memory.
REFUSAL_SECONDS = 10
REFUSAL_ADDRESS_SPACE = 2 << 30
# Hostile files whose refusal need not name the global, and why.
GLOBAL_MAY_GO_UNNAMED = {
    "legacy_magic.legacy.pt": "the magic number may be checked byte for byte, never unpickled",
}


@pytest.fixture
def hostile_files(tmp_path):
    """The hostile files built afresh, each with a marker path under this test's tmp_path."""
    markers = tmp_path / "markers"
    markers.mkdir()
    marker_for = lambda name: str(markers / f"owl_pwned_{name}")  # noqa: E731
    return mm.build_all(marker_for), marker_for


def run_refused(owl, path, out_dir, *args):
    """Runs owl on a file that must be refused and checks what every refusal promises."""
    before = path.read_bytes()
    r = owl(*args)
    assert r.returncode == 2, f"expected an input error (exit 2)\n{r.describe()}"
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected a one-line error\n{r.describe()}"
    assert path.name in lines[0], f"the error does not name the file\n{r.describe()}"
    assert path.read_bytes() == before, "owl changed its input"
    assert not list(out_dir.iterdir()), f"owl left files behind: {list(out_dir.iterdir())}"
    return lines[0]


def test_payloads_are_well_formed_pickles_reaching_their_global(hostile_files):
    """Without this, 'no marker' could mean a broken payload instead of a safe reader."""
    files, _ = hostile_files
    for name in HOSTILE:
        blob, refused = files[name]
        assert refused in referenced_globals(blob), (name, referenced_globals(blob))


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("output", OUTPUTS)
def test_hostile_pickle_is_refused_and_nothing_runs(owl, hostile_files, in_dir, out_dir, name,
                                                    output):
    files, marker_for = hostile_files
    blob, refused = files[name]
    src = in_dir / name
    src.write_bytes(blob)
    marker = Path(marker_for(mm.payload_of(name)))
    assert not marker.exists()

    line = run_refused(owl, src, out_dir, "convert", src, "-o", out_dir / output, "--quiet")
    if name not in GLOBAL_MAY_GO_UNNAMED:
        assert refused in line, f"the error does not name {refused}: {line}"
        assert "refusing to load" in line, line
    assert not marker.exists(), f"A COMMAND RAN: {marker} exists"
    assert not any(marker.parent.iterdir()), f"A COMMAND RAN: {list(marker.parent.iterdir())}"


def execs_under_strace(argv, log):
    """The programs `argv` and its children executed, as strace -f saw them."""
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve,execveat", "-o", str(log)] +
                   [str(a) for a in argv], capture_output=True, timeout=60,
                   stdin=subprocess.DEVNULL)
    return [ln.split('"')[1] for ln in log.read_text().splitlines() if "execve" in ln and '"' in ln]


def strace_works():
    """strace is installed and may trace here (some containers forbid ptrace)."""
    if shutil.which("strace") is None:
        return False
    return subprocess.run(["strace", "-qq", "-o", os.devnull, "true"], capture_output=True,
                          timeout=60).returncode == 0


needs_strace = pytest.mark.skipif(not strace_works(), reason="strace missing or cannot trace here")


@needs_strace
def test_strace_sees_a_command_run(tmp_path):
    """The control for the test below: a process that does run a command is seen doing it."""
    execs = execs_under_strace(["sh", "-c", f"touch {tmp_path / 'm'}; true"], tmp_path / "log")
    assert len(execs) == 2 and execs[1].endswith("touch"), execs


@needs_strace
@pytest.mark.parametrize("name", [n for n in HOSTILE if n.startswith(("posix_system",
                                                                         "subprocess_popen",
                                                                         "getattr_exec"))])
def test_no_process_is_started(owl, hostile_files, in_dir, out_dir, tmp_path, name):
    """owl executes no program at all while refusing a hostile file: the only execve strace
    sees is owl's own (convert runs itself again once, as /proc/self/exe, to set OpenMP's wait
    policy: tools/omp_wait_policy.cpp)."""
    files, _ = hostile_files
    src = in_dir / name
    src.write_bytes(files[name][0])
    for args in (["convert", src, "-o", out_dir / "o.safetensors"], ["inspect", "--scan", src]):
        execs = execs_under_strace([owl.binary, *args], tmp_path / "strace.log")
        again = args[0] == "convert" and "OMP_WAIT_POLICY" not in os.environ
        itself = [str(owl.binary)] + (["/proc/self/exe"] if again else [])
        assert execs == itself, f"owl started other programs: {execs}"


@pytest.mark.parametrize("name", HOSTILE)
def test_inspect_refuses_and_scan_names_the_global(owl, hostile_files, in_dir, out_dir, name):
    files, marker_for = hostile_files
    blob, refused = files[name]
    src = in_dir / name
    src.write_bytes(blob)

    line = run_refused(owl, src, out_dir, "inspect", src)
    if name not in GLOBAL_MAY_GO_UNNAMED:
        assert refused in line, line

    r = owl("inspect", "--scan", src)
    assert r.returncode == 2, f"--scan did not refuse a hostile file\n{r.describe()}"
    if name not in GLOBAL_MAY_GO_UNNAMED:
        listed = [ln for ln in r.stdout.splitlines() if refused in ln.split()]
        assert listed and "REFUSED" in listed[0], f"--scan does not flag {refused}\n{r.describe()}"
    assert src.read_bytes() == blob
    assert not any(Path(marker_for("x")).parent.iterdir()), "A COMMAND RAN"


@pytest.mark.parametrize("name", [n for n in BROKEN if n not in BOUNDED_ONLY])
def test_broken_file_is_refused(owl, in_dir, out_dir, name):
    src = in_dir / name
    src.write_bytes(FILES[name][0])
    run_refused(owl, src, out_dir, "convert", src, "-o", out_dir / "out.safetensors", "--quiet")
    run_refused(owl, src, out_dir, "inspect", src)


def run_bounded(argv):
    """Runs argv with at most REFUSAL_ADDRESS_SPACE bytes of address space; (exit, stderr)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (REFUSAL_ADDRESS_SPACE, REFUSAL_ADDRESS_SPACE))
    try:
        p = subprocess.run([str(a) for a in argv], capture_output=True, preexec_fn=limit,
                           timeout=REFUSAL_SECONDS, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"owl took over {REFUSAL_SECONDS} s to refuse {argv[2]}")
    return p.returncode, p.stderr.decode("utf-8", "replace")


@pytest.mark.parametrize("name", sorted(FILES) + [p.name for p in REGRESSIONS])
def test_refused_quickly_in_bounded_memory(owl, in_dir, out_dir, name):
    """No small file makes owl spend seconds or gigabytes before refusing it (a shared subtree
    referenced many times, a huge declared size, deep nesting)."""
    src = in_dir / name
    regression = DATA / "fuzz_regressions" / name
    src.write_bytes(regression.read_bytes() if regression.exists() else FILES[name][0])
    for args in (["inspect", src], ["convert", src, "-o", out_dir / "o.safetensors", "--quiet"]):
        rc, err = run_bounded([owl.binary, *args])
        assert rc == 2, f"owl {args[0]}: exit {rc}: {err}"
    assert not list(out_dir.iterdir())


def test_7z_archive_is_named_as_such(owl, in_dir, out_dir):
    """A real campaign shipped 7z archives as .bin; the error says what the file is."""
    src = in_dir / "pytorch_model.bin"
    src.write_bytes(FILES["7z_archive.bin"][0])
    line = run_refused(owl, src, out_dir, "convert", src, "-o", out_dir / "o.safetensors")
    assert "7z" in line.lower(), line


def test_hostile_shard_in_a_folder_is_refused(owl, hostile_files, tmp_path):
    """A malicious shard of an otherwise good Hugging Face .bin folder stops the conversion."""
    files, marker_for = hostile_files
    src = tmp_path / "folder"
    shutil.copytree(DATA / "tiny-llama3-bin", src)
    shard = src / "pytorch_model-00002-of-00002.bin"
    shard.write_bytes(files["posix_system.zip.pt"][0])
    out = tmp_path / "out"
    out.mkdir()
    before = su.dir_snapshot(src)
    r = owl("convert", src, "-o", out / "model.gguf", "--quiet")
    assert r.returncode == 2, r.describe()
    assert "posix.system" in r.stderr and shard.name in r.stderr, r.describe()
    assert su.dir_snapshot(src) == before
    assert not list(out.iterdir())
    assert not Path(marker_for("posix_system")).exists(), "A COMMAND RAN"


def test_committed_folder_is_what_the_script_makes():
    """tests/data/pytorch/malicious/ holds build_all()'s files (default markers) up to the size
    the script commits."""
    committed = {p.name: p.read_bytes() for p in (DATA / "malicious").iterdir()}
    want = {n: b for n, (b, _) in FILES.items() if len(b) <= mm.COMMIT_MAX_BYTES}
    assert sorted(committed) == sorted(want)
    for n, b in want.items():
        assert committed[n] == b, f"malicious/{n} differs from make_malicious.py's output"

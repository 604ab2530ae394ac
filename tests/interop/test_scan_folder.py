"""`owl inspect --scan DIR` reports every checkpoint of the folder: a file that is not a
checkpoint (an archive named .bin, an empty file) is listed with its error and the scan goes on,
and the exit code is 2 if any file was unsafe or unreadable."""

import shutil
from pathlib import Path

PYTORCH = Path(__file__).resolve().parents[2] / "tests" / "data" / "pytorch"
CLEAN = ["module.zip.pt", "shapes.legacy.pt"]
NOT_CHECKPOINTS = ["7z_archive.bin", "empty.bin"]


def folder_of(d, names):
    d.mkdir()
    for n in names:
        src = PYTORCH / n if (PYTORCH / n).exists() else PYTORCH / "malicious" / n
        shutil.copy(src, d / n)
    return d


def paths_reported(stdout):
    return sorted(Path(ln.split(None, 1)[1]).name for ln in stdout.splitlines()
                  if ln.startswith("path "))


def test_scan_reports_every_file_past_one_that_is_not_a_checkpoint(owl, tmp_path):
    # "7z_archive.bin" sorts first: before this was fixed, the scan stopped there.
    d = folder_of(tmp_path / "models", CLEAN + NOT_CHECKPOINTS)
    r = owl("inspect", "--scan", d)
    assert r.returncode == 2, r.describe()
    assert paths_reported(r.stdout) == sorted(CLEAN + NOT_CHECKPOINTS), r.describe()
    assert r.stdout.count("pickle globals") == len(CLEAN), r.describe()
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith("owl: error: "), r.describe()
    assert "2 of 4 files could not be scanned: 7z_archive.bin, empty.bin" in line, r.describe()


def test_scan_names_refused_globals_and_unreadable_files_together(owl, tmp_path):
    d = folder_of(tmp_path / "models", CLEAN + ["os_system.zip.pt", "empty.bin"])
    r = owl("inspect", "--scan", d)
    assert r.returncode == 2, r.describe()
    assert len(paths_reported(r.stdout)) == 4, r.describe()
    assert "os.system" in r.stderr and "1 of 4 files could not be scanned: empty.bin" in r.stderr, \
        r.describe()


def test_scan_of_a_clean_folder_passes(owl, tmp_path):
    d = folder_of(tmp_path / "models", CLEAN)
    r = owl("inspect", "--scan", d)
    assert r.returncode == 0, r.describe()
    assert paths_reported(r.stdout) == sorted(CLEAN), r.describe()


def test_scan_of_one_file_that_is_not_a_checkpoint_still_fails_alone(owl):
    r = owl("inspect", "--scan", PYTORCH / "malicious" / "7z_archive.bin")
    assert r.returncode == 2 and r.stderr.startswith("owl: error: "), r.describe()
    assert r.stdout == "", r.describe()

"""owl pull against a local stand-in for the Hugging Face Hub (hub_server.py), serving the files
of tests/data/hf/tiny-llama: the cache it writes is Hugging Face's own (huggingface_hub reads it
back offline, owl converts the snapshot), every file is checked against the published hash, and
each fault (a cut connection, wrong bytes, a 200 answer to a range request, a redirect to another
host, a 404, a 401) ends either in the right files or in an error that keeps nothing."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub_server import FakeHub

DATA = Path(__file__).resolve().parent.parent / "data" / "hf" / "tiny-llama"
REPO = "owl-test/tiny-llama"


@pytest.fixture
def hub():
    with FakeHub(REPO, DATA) as h:
        yield h


def pull(owl_bin, hub, cache, *args, token=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env["HF_ENDPOINT"] = hub.endpoint
    if token:
        env["HF_TOKEN"] = token
    argv = [str(owl_bin), "pull", *args, "-o", str(cache)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


def repo_dir(cache):
    return cache / ("models--" + REPO.replace("/", "--"))


def check_snapshot(hub, cache):
    """Every file is a relative link into blobs/ holding the served bytes."""
    snap = repo_dir(cache) / "snapshots" / hub.commit
    assert sorted(p.name for p in snap.iterdir()) == sorted(hub.files)
    for name, data in hub.files.items():
        link = snap / name
        assert link.is_symlink() and not os.readlink(link).startswith("/")
        assert os.readlink(link).startswith("../../blobs/")
        assert link.read_bytes() == data
    assert (repo_dir(cache) / "refs" / "main").read_text() == hub.commit
    assert not list((repo_dir(cache) / "blobs").glob("*.incomplete"))
    return snap


def test_pull_writes_the_cache_huggingface_hub_reads(owl_bin, hub, tmp_path, owl):
    cache = tmp_path / "hub"
    r = pull(owl_bin, hub, cache, REPO, "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    snap = check_snapshot(hub, cache)
    assert summary["commit"] == hub.commit and summary["snapshot"] == str(snap)
    assert summary["downloaded_bytes"] == sum(len(d) for d in hub.files.values())
    hashes = {f["path"]: f["hash"] for f in summary["files"]}
    assert hashes["model.safetensors"].startswith("sha256:")
    assert hashes["config.json"].startswith("git-sha1:")
    # Blob names are what huggingface_hub names them: the SHA-256 of LFS files, git's blob id of
    # the rest.
    info = {s["rfilename"]: s for s in hub.info()["siblings"]}
    for name in hub.files:
        want = info[name]["lfs"]["sha256"] if "lfs" in info[name] else info[name]["blobId"]
        assert os.readlink(snap / name) == "../../blobs/" + want

    # huggingface_hub itself, offline, finds every file through refs/main.
    code = (
        "import sys, huggingface_hub as h\n"
        f"p = h.snapshot_download({REPO!r}, local_files_only=True)\n"
        f"f = h.hf_hub_download({REPO!r}, 'model.safetensors', local_files_only=True)\n"
        "print(p); print(f)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(cache), HF_HUB_DISABLE_TELEMETRY="1")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split()
    assert Path(lines[0]) == snap
    assert Path(lines[1]).read_bytes() == hub.files["model.safetensors"]

    # owl converts the snapshot folder as it is.
    out = tmp_path / "m.gguf"
    c = owl("convert", snap, "-o", out, "--quiet")
    assert c.returncode == 0, c.describe()
    assert out.stat().st_size > 0

    # A second pull downloads nothing: the blobs are there and still match their hashes.
    again = pull(owl_bin, hub, cache, REPO, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["downloaded_bytes"] == 0
    assert {f["status"] for f in json.loads(again.stdout)["files"]} == {"cached"}


def tree(root):
    """Every path under root, with its link target or file bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = p.read_bytes()
    return out


def test_the_cache_is_the_one_huggingface_hub_writes(owl_bin, hub, tmp_path):
    """huggingface_hub, online against the same server, writes the same tree to the byte."""
    r = pull(owl_bin, hub, tmp_path / "owl", REPO)
    assert r.returncode == 0, r.stderr
    code = f"import huggingface_hub as h; print(h.snapshot_download({REPO!r}))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HUB_CACHE=str(tmp_path / "hf"),
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    theirs = {k: v for k, v in tree(tmp_path / "hf").items() if not k.startswith(".locks")}
    assert len(theirs) == 2 * len(hub.files) + 1  # blobs, links, refs/main
    assert tree(tmp_path / "owl") == theirs


def test_include_exclude_and_commit_revision(owl_bin, hub, tmp_path):
    cache = tmp_path / "hub"
    r = pull(owl_bin, hub, cache, f"{REPO}@{hub.commit}", "--include", "*.json",
             "--exclude", "tokenizer*", "--json")
    assert r.returncode == 0, r.stderr
    assert [f["path"] for f in json.loads(r.stdout)["files"]] == ["config.json"]
    assert not (repo_dir(cache) / "refs").exists()  # a commit names itself


def test_cut_connection_resumes_with_a_range(owl_bin, hub, tmp_path):
    hub.cut_once = {"model.safetensors", "config.json"}
    cache = tmp_path / "hub"
    r = pull(owl_bin, hub, cache, REPO, "--json")
    assert r.returncode == 0, r.stderr
    check_snapshot(hub, cache)
    size = len(hub.files["model.safetensors"])
    ranges = [rng for _, path, rng, _ in hub.log if path.endswith("/model.safetensors")]
    assert ranges == [None, f"bytes={size // 2}-"]
    status = {f["path"]: f["status"] for f in json.loads(r.stdout)["files"]}
    assert status["model.safetensors"] == "resumed"


def test_a_later_run_resumes_what_an_earlier_one_left(owl_bin, hub, tmp_path):
    cache = tmp_path / "hub"
    data = hub.files["model.safetensors"]
    sha = hashlib.sha256(data).hexdigest()
    (repo_dir(cache) / "blobs").mkdir(parents=True)
    (repo_dir(cache) / "blobs" / (sha + ".incomplete")).write_bytes(data[:1000])
    r = pull(owl_bin, hub, cache, REPO, "--json")
    assert r.returncode == 0, r.stderr
    check_snapshot(hub, cache)
    ranges = [rng for _, path, rng, _ in hub.log if path.endswith("/model.safetensors")]
    assert ranges == ["bytes=1000-"]


def test_a_200_answer_to_a_range_request_starts_over(owl_bin, hub, tmp_path):
    hub.cut_once = {"model.safetensors"}
    hub.ignore_range = {"model.safetensors"}
    cache = tmp_path / "hub"
    r = pull(owl_bin, hub, cache, REPO, "--json")
    assert r.returncode == 0, r.stderr
    check_snapshot(hub, cache)
    status = {f["path"]: f["status"] for f in json.loads(r.stdout)["files"]}
    assert status["model.safetensors"] == "restarted"


@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_wrong_bytes_are_an_error_and_nothing_is_kept(owl_bin, hub, tmp_path, name):
    hub.corrupt = {name}
    cache = tmp_path / "hub"
    r = pull(owl_bin, hub, cache, REPO)
    assert r.returncode == 2
    assert name in r.stderr and "the Hub publishes" in r.stderr and "nothing kept" in r.stderr
    # The bad file's bytes are gone (other files cut short by the error may stay as
    # .incomplete, to resume from).
    blobs = [p.name for p in (repo_dir(cache) / "blobs").iterdir()]
    info = {s["rfilename"]: s for s in hub.info()["siblings"]}
    bad = info[name]["lfs"]["sha256"] if "lfs" in info[name] else info[name]["blobId"]
    assert bad not in blobs and bad + ".incomplete" not in blobs
    assert not (repo_dir(cache) / "snapshots").exists()
    assert not (repo_dir(cache) / "refs").exists()


def test_redirect_to_another_host_drops_the_token(owl_bin, hub, tmp_path):
    hub.redirect_lfs = True
    hub.token = "hf_secret"
    cache = tmp_path / "hub"
    r = pull(owl_bin, hub, cache, REPO, token="hf_secret")
    assert r.returncode == 0, r.stderr
    check_snapshot(hub, cache)
    cdn = [(host, auth) for host, path, _, auth in hub.log if path.startswith("/cdn/")]
    assert cdn and all(host.startswith("localhost") and auth is None for host, auth in cdn)
    direct = [auth for host, path, _, auth in hub.log if not path.startswith("/cdn/")]
    assert direct and all(a == "Bearer hf_secret" for a in direct)


def test_401_without_a_token_and_404(owl_bin, hub, tmp_path):
    hub.token = "hf_secret"
    r = pull(owl_bin, hub, tmp_path / "hub", REPO)
    assert r.returncode == 2 and "401" in r.stderr and "HF_TOKEN" in r.stderr
    r = pull(owl_bin, hub, tmp_path / "hub", REPO, token="hf_wrong")
    assert r.returncode == 2 and "refused" in r.stderr
    r = pull(owl_bin, hub, tmp_path / "hub", "owl-test/missing", token="hf_secret")
    assert r.returncode == 2 and "404" in r.stderr
    r = pull(owl_bin, hub, tmp_path / "hub", REPO + "@nope", token="hf_secret")
    assert r.returncode == 2 and "404" in r.stderr
    assert not (tmp_path / "hub" / "models--owl-test--tiny-llama" / "snapshots").exists()


@pytest.mark.parametrize("bad", ["../../evil", "/etc/passwd", "a/../../b", "a\\..\\b", ""])
def test_file_names_that_leave_the_snapshot_are_refused(owl_bin, hub, tmp_path, bad):
    info = hub.info()
    info["siblings"][0]["rfilename"] = bad
    hub.info = lambda: info
    r = pull(owl_bin, hub, tmp_path / "hub", REPO)
    assert r.returncode == 2 and "unsafe file name" in r.stderr
    assert not (tmp_path / "hub" / "models--owl-test--tiny-llama").exists()
    assert not (tmp_path / "evil").exists()


def test_scan_after_pull_flags_a_malicious_pickle(owl_bin, hub, tmp_path):
    cache = tmp_path / "hub"
    clean = pull(owl_bin, hub, cache, REPO, "--scan", "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["scanned"] is True

    malicious = DATA.parent.parent / "pytorch" / "malicious" / "builtins_eval.zip.pt"
    hub.files["sub/dir/pytorch_model.bin"] = malicious.read_bytes()
    r = pull(owl_bin, hub, tmp_path / "hub2", REPO, "--scan")
    assert r.returncode == 2
    assert "sub/dir/pytorch_model.bin" in r.stderr and "scan finding" in r.stderr
    # Links two folders down into blobs/ are the cache's layout, not an escape.
    assert "outside the scanned folder" not in r.stderr
    assert os.readlink(repo_dir(tmp_path / "hub2") / "snapshots" / hub.commit / "sub" / "dir" /
                       "pytorch_model.bin").startswith("../../../../blobs/")

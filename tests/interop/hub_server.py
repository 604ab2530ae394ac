"""A local stand-in for the Hugging Face Hub's HTTP interface, for `owl pull`'s tests.

It serves one repository from a folder of files with the two endpoints a downloader needs, in
the shapes the real Hub answers with (huggingface_hub's `model_info(..., files_metadata=True)`
reads the same fields):

  GET /api/models/{org}/{name}/revision/{rev}?blobs=true
      {"id", "sha": commit, "siblings": [{"rfilename", "size", "blobId", "lfs": {"sha256",
      "size", "pointerSize"}}]}       (lfs only for the large files, as git-lfs stores them)
  GET /{org}/{name}/resolve/{commit}/{file}      the bytes; Range: bytes=N- gives a 206

and the faults a downloader must survive, switched on per test (see FakeHub's attributes).
"""

import hashlib
import http.server
import json
import threading
import urllib.parse
from pathlib import Path

LFS_SUFFIXES = (".safetensors", ".model", ".bin", ".gguf")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(self, repo: str, folder: Path):
        self.repo = repo
        self.files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
        self.commit = hashlib.sha1(repr(sorted(self.files)).encode()).hexdigest()
        # Faults: file names whose first request is cut halfway; whose range requests get the
        # whole file (200); whose bytes are served with one byte flipped; LFS files answered by
        # a redirect to the other host name ("localhost" for "127.0.0.1"); a token every request
        # to the hub host must carry.
        self.cut_once = set()
        self.ignore_range = set()
        self.corrupt = set()
        self.redirect_lfs = False
        self.token = None
        self.log = []  # (host header, path, Range header, Authorization header)
        self._cut_done = set()
        self._lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def is_lfs(self, name: str) -> bool:
        return name.endswith(LFS_SUFFIXES)

    def info(self) -> dict:
        siblings = []
        for name, data in self.files.items():
            s = {"rfilename": name, "size": len(data), "blobId": git_blob_sha1(data)}
            if self.is_lfs(name):
                s["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                            "pointerSize": 134}
            siblings.append(s)
        return {"_id": "0" * 24, "id": self.repo, "modelId": self.repo, "private": False,
                "sha": self.commit, "tags": ["safetensors", "llama"], "siblings": siblings}

    def _handler(self):
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = urllib.parse.urlsplit(self.path).path
                auth = self.headers.get("Authorization")
                with hub._lock:
                    hub.log.append((self.headers.get("Host"), path, self.headers.get("Range"),
                                    auth))
                if path.startswith("/cdn/"):
                    return self.serve_file(path[len("/cdn/"):])
                if hub.token and auth != f"Bearer {hub.token}":
                    return self.send(401, b'{"error":"Invalid username or password."}')
                api = f"/api/models/{hub.repo}/revision/"
                if path.startswith(api):
                    rev = urllib.parse.unquote(path[len(api):])
                    if rev not in ("main", hub.commit):
                        return self.send(404, b'{"error":"Invalid rev id"}')
                    return self.send(200, json.dumps(hub.info()).encode(),
                                     [("Content-Type", "application/json")])
                prefix = f"/{hub.repo}/resolve/{hub.commit}/"
                if not path.startswith(prefix):
                    return self.send(404, b"Repository not found")
                name = urllib.parse.unquote(path[len(prefix):])
                if hub.redirect_lfs and hub.is_lfs(name):
                    host = "localhost" if self.headers.get("Host").startswith("127.") else "127.0.0.1"
                    return self.send(302, headers=[
                        ("Location", f"http://{host}:{hub.port}/cdn/{urllib.parse.quote(name)}")])
                return self.serve_file(name)

            def do_HEAD(self):
                # What huggingface_hub asks before a download: the commit, the content's id
                # (its blob name in the cache) and size.
                path = urllib.parse.urlsplit(self.path).path
                prefix = f"/{hub.repo}/resolve/"
                rest = path[len(prefix):].split("/", 1) if path.startswith(prefix) else []
                if len(rest) != 2 or rest[0] not in ("main", hub.commit) or rest[1] not in hub.files:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                data = hub.files[rest[1]]
                self.send_response(200)
                self.send_header("X-Repo-Commit", hub.commit)
                if hub.is_lfs(rest[1]):
                    self.send_header("X-Linked-Etag", f'"{hashlib.sha256(data).hexdigest()}"')
                    self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("ETag", f'"{git_blob_sha1(data)}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()

            def serve_file(self, name):
                if name not in hub.files:
                    return self.send(404, b"Entry not found")
                data = hub.files[name]
                if name in hub.corrupt:
                    data = data[:-1] + bytes([data[-1] ^ 1])
                start = 0
                rng = self.headers.get("Range")
                if rng and name not in hub.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                with hub._lock:
                    cut = name in hub.cut_once and name not in hub._cut_done
                    hub._cut_done.add(name)
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                body = data[start:]
                if cut:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        return Handler


if __name__ == "__main__":
    # Writes the API answer for tiny-llama: the fuzz seed of owl's parser of it (tools/fuzz.sh).
    import sys
    folder = Path(__file__).resolve().parent.parent / "data" / "hf" / "tiny-llama"
    Path(sys.argv[1]).write_text(json.dumps(FakeHub("owl-test/tiny-llama", folder).info()))

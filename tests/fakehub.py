"""A tiny stand-in for the Hugging Face Hub's file API, on loopback, for download tests.

Serves one repository from a local folder: the tree listing (``/api/models/R/tree/REV``),
repo info (``/api/models/R/revision/REV``) and ``/R/resolve/REV/PATH`` with HEAD, ETag, sizes and
byte ranges (resume). ``interrupt`` cuts the first GET of a file 200 kB before its end; ``corrupt`` flips a byte
of a file while advertising the true checksum.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "a" * 40


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(self, repo_id: str, files: dict[str, Path]) -> None:
        self.repo_id = repo_id
        self.files = {name: path.read_bytes() for name, path in files.items()}
        self.lfs = {name for name, data in self.files.items() if len(data) > 100_000}
        self.interrupt: set[str] = set()
        self.corrupt: set[str] = set()
        self.gets: list[tuple[str, str | None]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, obj) -> None:
                body = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _file(self, head: bool) -> None:
                path = unquote(urlparse(self.path).path)
                prefix = f"/{hub.repo_id}/resolve/"
                if not path.startswith(prefix):
                    return self.send_error(404)
                name = path[len(prefix) :].split("/", 1)[1]
                data = hub.files.get(name)
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return None
                etag = hashlib.sha256(data).hexdigest() if name in hub.lfs else git_blob_sha1(data)
                if not head and name in hub.corrupt:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0] or 0)
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(body)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if head:
                    return None
                hub.gets.append((name, rng))
                if name in hub.interrupt:
                    hub.interrupt.discard(name)
                    self.wfile.write(body[: max(len(body) // 2, len(body) - 200_000)])
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                self.wfile.write(body)
                return None

            def do_HEAD(self):  # noqa: N802
                self._file(head=True)

            def do_GET(self):  # noqa: N802
                path = unquote(urlparse(self.path).path)
                base = f"/api/models/{hub.repo_id}"
                if path.startswith(base + "/tree/"):
                    return self._json(hub.tree())
                if path.startswith(base + "/revision/") or path == base:
                    return self._json(
                        {"id": hub.repo_id, "sha": COMMIT, "siblings": [{"rfilename": n} for n in sorted(hub.files)]}
                    )
                return self._file(head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def tree(self) -> list[dict]:
        out, folders = [], set()
        for name, data in sorted(self.files.items()):
            parts = name.split("/")
            for i in range(1, len(parts)):
                folders.add("/".join(parts[:i]))
            entry = {"type": "file", "path": name, "size": len(data), "oid": git_blob_sha1(data)}
            if name in self.lfs:
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            out.append(entry)
        out += [{"type": "directory", "path": f, "oid": "0" * 40, "size": 0} for f in sorted(folders)]
        return out

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

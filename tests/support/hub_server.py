"""A small local HTTP server speaking the Hub endpoints ``jinstruct publish`` uses.

The Hub is unreachable from the test machines, so publish is exercised through
the real ``huggingface_hub`` client with its endpoint pointed here. The server
keeps dataset repositories in memory and implements, for ``main`` only:

- ``POST /api/repos/create``                   (409 when the repository exists)
- ``GET  /api/datasets/{repo}/refs``            (branches and tags)
- ``GET  /api/datasets/{repo}/tree/{rev}``      (file listing)
- ``POST /api/validate-yaml``                   (checks only that the YAML header parses to a mapping;
                                                 the real Hub's schema checks are not reproduced)
- ``POST /api/datasets/{repo}/preupload/{rev}`` (every file as a "regular" upload, sent inline in the commit)
- ``POST /api/datasets/{repo}/commit/{rev}``    (NDJSON: header, file, deletedFile)
- ``POST /api/datasets/{repo}/tag/{rev}``       (409 when the tag exists)

and, for reading a version back (``snapshot_download``), at any branch, tag or commit:

- ``GET  /api/datasets/{repo}/revision/{rev}``  (repository info with its files)
- ``HEAD|GET /datasets/{repo}/resolve/{rev}/{path}``

Every request must carry ``Authorization: Bearer <token>``; requests are
recorded (method and path, never headers) so tests can check what was called.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

import yaml


@dataclass
class HubRepo:
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def head(self) -> str:
        return self.commits[-1]["oid"] if self.commits else "0" * 40

    def files_at(self, rev: str) -> tuple[str, dict[str, bytes]] | None:
        """(commit, files) at a branch, tag or commit id, or None."""
        oid = self.head if rev == "main" else self.tags.get(rev, rev)
        if oid == self.head:
            return oid, self.files
        return next(((c["oid"], c["snapshot"]) for c in self.commits if c["oid"] == oid), None)


class LocalHub:
    """Run with ``with LocalHub(token) as hub: ... hub.url ...``."""

    def __init__(self, token: str):
        self.token = token
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LocalHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


_REPO_PATH = re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/(?P<action>refs|tree|preupload|commit|tag|revision)"
                        r"(?:/(?P<rev>[^/?]+))?")
_RESOLVE_PATH = re.compile(r"^/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


def _handler_for(hub: LocalHub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: object, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, code: str | None = None) -> None:
            self._reply(status, {"error": message}, {"X-Error-Code": code} if code else None)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {hub.token}":
                self._error(401, "Invalid credentials in Authorization header")
                return False
            return True

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_HEAD(self) -> None:
            self._dispatch("HEAD")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def _dispatch(self, method: str) -> None:
            path = urlparse(self.path).path
            with hub.lock:
                hub.requests.append(f"{method} {path}")
            if not self._authorised():
                return
            if method == "POST" and path == "/api/repos/create":
                return self._create(json.loads(self._body()))
            if method == "POST" and path == "/api/validate-yaml":
                return self._validate_yaml(json.loads(self._body()))
            resolve = _RESOLVE_PATH.match(path)
            if method in ("GET", "HEAD") and resolve:
                return self._resolve(method, resolve["repo"], unquote(resolve["rev"]), unquote(resolve["path"]))
            match = _REPO_PATH.match(path)
            if not match:
                return self._error(404, f"no such endpoint: {method} {path}")
            repo = hub.repos.get(match["repo"])
            if repo is None:
                return self._error(404, "Repository not found", "RepoNotFound")
            rev = unquote(match["rev"] or "main")
            action = match["action"]
            if method == "GET" and action == "refs":
                return self._reply(200, {
                    "branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": repo.head}],
                    "converts": [],
                    "tags": [{"name": name, "ref": f"refs/tags/{name}", "targetCommit": oid}
                             for name, oid in sorted(repo.tags.items())]})
            if method == "GET" and action in ("tree", "revision"):
                found = repo.files_at(rev)
                if found is None:
                    return self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
                oid, files = found
                if action == "revision":
                    return self._reply(200, {"id": match["repo"], "sha": oid, "private": repo.private,
                                             "siblings": [{"rfilename": name} for name in sorted(files)]})
                return self._reply(200, [{"type": "file", "path": name, "size": len(data), "oid": _blob_id(data)}
                                         for name, data in sorted(files.items())])
            if method == "POST" and action == "preupload":
                files = json.loads(self._body())["files"]
                return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                   for f in files]})
            if method == "POST" and action == "commit" and rev == "main":
                return self._commit(match["repo"], repo, self._body())
            if method == "POST" and action == "tag":
                return self._tag(repo, rev, json.loads(self._body()))
            return self._error(404, f"no such endpoint: {method} {path}")

        def _create(self, payload: dict) -> None:
            repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            if payload.get("type") != "dataset":
                return self._error(400, "this test hub holds dataset repositories only")
            url = f"{hub.url}/datasets/{repo_id}"
            with hub.lock:
                if repo_id in hub.repos:
                    return self._reply(409, {"error": "You already created this dataset repo", "url": url})
                hub.repos[repo_id] = HubRepo(private=payload.get("visibility") == "private")
            self._reply(200, {"url": url, "name": repo_id})

        def _validate_yaml(self, payload: dict) -> None:
            content = payload.get("content", "")
            match = re.match(r"^---\n(.*?)\n---\n", content, re.S)
            try:
                header = yaml.safe_load(match.group(1)) if match else None
            except yaml.YAMLError as exc:
                return self._reply(400, {"errors": [{"message": f"YAML does not parse: {exc}"}], "warnings": []})
            if not isinstance(header, dict):
                return self._reply(400, {"errors": [{"message": "no YAML metadata block"}], "warnings": []})
            self._reply(200, {"errors": [], "warnings": []})

        def _commit(self, repo_id: str, repo: HubRepo, body: bytes) -> None:
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            header = next(line["value"] for line in lines if line["key"] == "header")
            with hub.lock:
                files = dict(repo.files)
                for line in lines:
                    if line["key"] == "file":
                        files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
                    elif line["key"] == "deletedFile":
                        files.pop(line["value"]["path"], None)
                    elif line["key"] != "header":
                        return self._error(400, f"this test hub does not support {line['key']!r} operations")
                digest = hashlib.sha1(repo.head.encode())
                for name, data in sorted(files.items()):
                    digest.update(name.encode() + b"\0" + hashlib.sha1(data).digest())
                oid = digest.hexdigest()
                repo.files = files
                repo.commits.append({"oid": oid, "summary": header["summary"], "description": header.get("description"),
                                     "snapshot": files})
            self._reply(200, {"commitUrl": f"{hub.url}/datasets/{repo_id}/commit/{oid}", "commitOid": oid,
                              "pullRequestUrl": None})

        def _resolve(self, method: str, repo_id: str, rev: str, path: str) -> None:
            repo = hub.repos.get(repo_id)
            found = repo.files_at(rev) if repo else None
            if found is None or path not in found[1]:
                return self._error(404, f"{path} not found at {rev}", "EntryNotFound")
            oid, files = found
            data = files[path]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", f'"{_blob_id(data)}"')
            self.send_header("X-Repo-Commit", oid)
            self.end_headers()
            if method == "GET":
                self.wfile.write(data)

        def _tag(self, repo: HubRepo, rev: str, payload: dict) -> None:
            with hub.lock:
                if payload["tag"] in repo.tags:
                    return self._error(409, f"Tag {payload['tag']} already exists")
                oid = repo.head if rev == "main" else rev
                if oid not in {commit["oid"] for commit in repo.commits}:
                    return self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
                repo.tags[payload["tag"]] = oid
            self._reply(200, {})

    return Handler


def _blob_id(data: bytes) -> str:
    """The git blob id of ``data``, as the Hub reports for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

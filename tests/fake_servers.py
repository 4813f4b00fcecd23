"""A local HTTP server that imitates the three places aegan downloads from.

One ``FakeHub`` on 127.0.0.1 (a free port) answers like:

- Seafile: ``/api/v2.1/share-links/<token>/dirents/?path=<dir>`` lists a folder of
  the share, ``/d/<token>/files/?p=<path>&dl=1`` redirects to the file as Seafile
  does, and the file is served with HTTP Range support;
- Zenodo: ``/api/records/<id>`` lists a record's files (key, size, md5 checksum,
  links), ``/api/records/<id>/files/<key>/content`` and
  ``/records/<id>/files/<key>?download=1`` serve them;
- GitHub raw: any other path is looked up in ``raw``.

Faults can be switched on per request: an HTTP status, a connection cut after
some bytes, a slow answer (to trigger a client timeout), or ignoring Range.
Every request is logged with its Range header so tests can check resumption.
``serve_dcase`` publishes a DCASE tree on disk (e.g. from ``aegan.synth.dataset``) as
the official Zenodo archives and evaluator files. Fixtures: ``fake_hub`` (the
server), ``hub_settings`` (HubSettings pointing at it) and ``closed_port_url``
(a server that refuses connections, as when offline).

PYTEST_DONT_REWRITE (no assertions here; test_hub imports this module before
pytest loads it as the plugin that provides the fixtures).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import stat
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from aegan.config.settings import HubSettings
from aegan.dcase.facts import edition
from aegan.hub.archives import dcase_archives

SHARE_TOKEN = "f00dfeed1234"
EVALUATOR_2022_PATH = "/Kota-Dohi/dcase2022_evaluator/main"
MAX_DELAY = 2.0  # a slow answer never holds a server thread longer than this


@dataclass
class Fault:
    """A misbehaviour applied to requests whose path contains ``match``."""

    status: int | None = None
    cut_after: int | None = None
    delay: float = 0.0
    ignore_range: bool = False
    match: str = ""
    times: int | None = None  # how many requests it affects; None: all of them


@dataclass
class LoggedRequest:
    path: str
    range: str | None


@dataclass
class ZenodoRecord:
    files: dict[str, bytes]
    links: str = "self"  # "self", "content" (newer API) or "none" (fallback URL)
    md5_override: dict[str, str] = field(default_factory=dict)


class FakeHub:
    """State of the fake server: contents, faults and the request log."""

    def __init__(self) -> None:
        self.share: dict[str, bytes] = {}
        self.zenodo: dict[int, ZenodoRecord] = {}
        self.raw: dict[str, bytes] = {}
        self.faults: list[Fault] = []
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_fault(self, **kwargs: Any) -> Fault:
        fault = Fault(**kwargs)
        self.faults.append(fault)
        return fault

    def requests_to(self, fragment: str) -> list[LoggedRequest]:
        return [r for r in self.requests if fragment in r.path]

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.match in path and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def log(self, path: str, range_header: str | None) -> None:
        with self._lock:
            self.requests.append(LoggedRequest(path, range_header))

    def serve_dcase(self, root: Path, year: int, machine: str) -> None:
        """Zip one machine's data under ``root`` into its Zenodo records, and serve the
        eval ground truth under ``root/ground_truth`` as the evaluators publish it."""
        for archive in dcase_archives(year, machine, "all"):
            entries = {
                f"{machine}/{split}/{wav.name}": wav.read_bytes()
                for split in archive.splits
                for wav in sorted((root / f"{archive.subset}_data" / machine / split).glob("*.wav"))
            }
            record = self.zenodo.setdefault(archive.record, ZenodoRecord({}))
            record.files[archive.name] = zip_bytes(entries)
        truth = root / "ground_truth"
        published = edition(year).ground_truth
        for path in sorted(truth.rglob("*.csv")) if published else ():
            relative = path.relative_to(truth).as_posix()
            if published.zenodo_record is None:
                raw_path = f"/{published.github_repo}/{published.github_ref}/{relative}"
                self.raw[raw_path] = path.read_bytes()
            else:
                record = self.zenodo.setdefault(published.zenodo_record, ZenodoRecord({}))
                record.files[relative] = path.read_bytes()


def zip_bytes(entries: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    """A zip of ``entries``; each name in ``symlinks`` is a symbolic link pointing outside."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "../../outside")
    return buffer.getvalue()


def _handler_for(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(_FakeHandler):
        pass

    Handler.hub = hub
    return Handler


class _FakeHandler(BaseHTTPRequestHandler):
    hub: FakeHub

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""

    def do_GET(self) -> None:
        self.hub.log(self.path, self.headers.get("Range"))
        fault = self.hub.take_fault(self.path)
        try:
            if fault and fault.delay:
                time.sleep(min(fault.delay, MAX_DELAY))
            if fault and fault.status:
                self._send_body(fault.status, b"fault", "text/plain")
            else:
                self._route(fault)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer

    # -------------------------------------------------------- routing

    def _route(self, fault: Fault | None) -> None:
        split = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(split.query)
        path = urllib.parse.unquote(split.path)
        token = re.escape(SHARE_TOKEN)
        record_file = re.fullmatch(r"/(?:api/)?records/(\d+)/files/(.+?)(?:/content)?", path)
        record_api = re.fullmatch(r"/api/records/(\d+)", path)
        if re.fullmatch(rf"/api/v2\.1/share-links/{token}/dirents/", path):
            self._dirents(query.get("path", ["/"])[0])
        elif re.fullmatch(rf"/d/{token}/files/", path) and "p" in query:
            self._redirect("/seafhttp/files" + urllib.parse.quote(query["p"][0]))
        elif path.startswith("/seafhttp/files/"):
            self._file(self.hub.share.get(path[len("/seafhttp/files") :]), fault)
        elif record_api:
            self._record(int(record_api[1]))
        elif record_file:
            record = self.hub.zenodo.get(int(record_file[1]))
            self._file(record.files.get(record_file[2]) if record else None, fault)
        else:
            self._file(self.hub.raw.get(path), fault)

    def _dirents(self, folder: str) -> None:
        folder = "/" + folder.strip("/")
        prefix = folder.rstrip("/") + "/"
        if folder != "/" and not any(p.startswith(prefix) for p in self.hub.share):
            self._send_json(404, {"error_msg": "Folder not found."})
            return
        entries: dict[str, dict[str, Any]] = {}
        for file_path, data in sorted(self.hub.share.items()):
            if not file_path.startswith(prefix):
                continue
            name, _, rest = file_path[len(prefix) :].partition("/")
            if rest:
                entries[name] = {
                    "is_dir": True,
                    "last_modified": "2022-06-01T10:00:00+08:00",
                    "folder_path": f"{prefix}{name}/",
                    "folder_name": name,
                    "size": 0,
                }
            else:
                entries[name] = {
                    "is_dir": False,
                    "last_modified": "2022-06-01T10:00:00+08:00",
                    "file_path": file_path,
                    "file_name": name,
                    "size": len(data),
                }
        self._send_json(200, {"dirent_list": list(entries.values())})

    def _record(self, record_id: int) -> None:
        record = self.hub.zenodo.get(record_id)
        if record is None:
            self._send_json(404, {"status": 404, "message": "PID does not exist."})
            return
        base = f"http://{self.headers['Host']}"
        files = []
        for key, data in record.files.items():
            quoted = urllib.parse.quote(key)
            md5 = record.md5_override.get(key, hashlib.md5(data).hexdigest())
            entry: dict[str, Any] = {"key": key, "size": len(data), "checksum": f"md5:{md5}"}
            if record.links == "self":
                entry["links"] = {"self": f"{base}/api/records/{record_id}/files/{quoted}/content"}
            elif record.links == "content":
                entry["links"] = {
                    "self": f"{base}/api/records/{record_id}/files/{quoted}",
                    "content": f"{base}/api/records/{record_id}/files/{quoted}/content",
                }
            files.append(entry)
        self._send_json(200, {"id": record_id, "files": files})

    # -------------------------------------------------------- answers

    def _file(self, data: bytes | None, fault: Fault | None) -> None:
        if data is None:
            self._send_body(404, b"Not Found", "text/plain")
            return
        start = self._range_start(fault)
        if start is not None and start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = data[start or 0 :]
        self.send_response(206 if start is not None else 200)
        if start is not None:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if fault and fault.cut_after is not None:
            self.wfile.write(body[: fault.cut_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def _range_start(self, fault: Fault | None) -> int | None:
        header = self.headers.get("Range")
        if not header or (fault and fault.ignore_range):
            return None
        m = re.fullmatch(r"bytes=(\d+)-", header.strip())
        return int(m[1]) if m else None

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_json(self, status: int, payload: Any) -> None:
        self._send_body(status, json.dumps(payload).encode(), "application/json")

    def _send_body(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """The fake server; requests go to it directly even where the user has a proxy
    configured."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    hub = FakeHub().start()
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def hub_settings(fake_hub: FakeHub) -> HubSettings:
    return HubSettings(
        seafile_url=fake_hub.url,
        seafile_token=SHARE_TOKEN,
        zenodo_url=fake_hub.url,
        github_raw_url=fake_hub.url,
        timeout=2.0,
        retries=2,
    )


@pytest.fixture
def closed_port_url(monkeypatch: pytest.MonkeyPatch) -> str:
    """A loopback URL nothing listens on: connecting is refused, like being offline."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"

"""Bad requests to `aegan serve`: each gets one clear JSON message and an HTTP status.

Every case runs against a real server (uvicorn on loopback, through httpx) and
also asserts that no traceback reaches the client, that the service's private
folder is empty afterwards (nothing kept, nothing half-written) and that the
service still answers. A case marked ``cli`` must give exactly the message
``aegan score --json`` gives for the same file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from aegan.cli import app
from aegan.serve.config import ServeConfig
from tests.conftest import write_tone
from tests.robustness.corpus import Case, Workspace, corpus_test
from tests.serve.conftest import TOKEN, Gate, Running, running

LIMIT_MB = 0.25


@dataclass(frozen=True)
class HttpCase:
    name: str
    status: int
    message: str  # a regex the answer's "detail" must match
    request: Callable[[Path], dict[str, Any]]  # httpx request arguments, built in a folder
    cli: str | None = None  # the file whose `aegan score --json` error must be the detail
    headers: tuple[str, ...] = field(default=())  # headers the answer must have


def upload(name: str, make: Callable[[Path], None], **params: str) -> Callable[[Path], dict]:
    def build(folder: Path) -> dict:
        path = folder / name
        make(path)
        return {"files": {"file": (name, path.read_bytes())}, "params": params}

    return build


def raw(content: bytes | Callable[[], Iterator[bytes]], content_type: str, **params: str):
    def build(folder: Path) -> dict:
        body = content() if callable(content) else content
        return {"content": body, "headers": {"Content-Type": content_type}, "params": params}

    return build


def tone(seconds: float = 2.0) -> Callable[[Path], None]:
    return lambda path: write_tone(path, seconds=seconds)


def samples(values: np.ndarray) -> Callable[[Path], None]:
    return lambda path: sf.write(str(path), values, 16000, subtype="FLOAT")


def text(content: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(content)


def over_limit() -> Iterator[bytes]:
    """More than the limit, streamed without a Content-Length (chunked)."""
    for _ in range(int(LIMIT_MB * 2**20 // 65536) + 2):
        yield b"\0" * 65536


NAN = np.full(24000, np.nan, np.float32)
BOUNDARY = "multipart/form-data; boundary=XyZ"
ONE_FIELD = b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--XyZ--\r\n'
TWO_FILES = (
    b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nA\r\n'
    b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="b.wav"\r\n\r\nB\r\n'
    b"--XyZ--\r\n"
)

CASES = [
    HttpCase("not audio", 422, r"^Cannot read junk\.wav as audio: .*Format not recognised",
             upload("junk.wav", text("not audio at all")), cli="junk.wav"),
    HttpCase("too short", 422, r"too short", upload("short.wav", tone(0.2)), cli="short.wav"),
    HttpCase("NaN samples", 422, r"^nan\.wav is unusable: its samples include NaN",
             upload("nan.wav", samples(NAN)), cli="nan.wav"),
    HttpCase("NaN samples, as a timeline", 422, r"^nan\.wav is unusable: its samples include NaN",
             upload("nan.wav", samples(NAN), timeline="true")),
    HttpCase("digital silence", 422, r"^silent\.wav is unusable: it is digital silence",
             upload("silent.wav", samples(np.zeros(24000, np.float32))), cli="silent.wav"),
    HttpCase("upload over the limit, announced", 413, r"over the limit of 0\.25 MB",
             upload("big.wav", tone(10.0))),
    HttpCase("upload over the limit, streamed", 413, r"over the limit of 0\.25 MB",
             raw(over_limit, "audio/wav")),
    HttpCase("empty body", 422, r"no body", raw(b"", "audio/wav")),
    HttpCase("multipart without a file", 422, r"holds no file", raw(ONE_FIELD, BOUNDARY)),
    HttpCase("multipart with two files", 422, r"several files", raw(TWO_FILES, BOUNDARY)),
    HttpCase("multipart without a boundary", 422, r"no boundary",
             raw(b"--x--", "multipart/form-data")),
    HttpCase("unknown model", 404, r"no.*model named 'pump99'",
             upload("a.wav", tone(), model="pump99")),
    HttpCase("unknown score", 422, r"Unknown anomaly score 'G_best'",
             upload("a.wav", tone(), score="G_best")),
    HttpCase("negative hop", 422, r"hop must be a positive number",
             upload("a.wav", tone(), hop="-1")),
]  # fmt: skip


@pytest.fixture(scope="module")
def limited(small_bundle) -> Iterator[Running]:
    with running(ServeConfig(models=(str(small_bundle),), max_upload_mb=LIMIT_MB)) as served:
        yield served


@pytest.fixture(scope="module")
def guarded(small_bundle) -> Iterator[Running]:
    with running(ServeConfig(models=(str(small_bundle),), token=TOKEN)) as served:
        yield served


def _assert_clean(served: Running, answer) -> None:
    assert "Traceback" not in answer.text
    assert os.listdir(served.folder) == []  # nothing kept, nothing half-written
    assert served.client.get("/v1/health").json()["status"] == "ready"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cases(case: HttpCase, limited: Running, tmp_path, runner, small_bundle, monkeypatch):
    answer = limited.client.post("/v1/score", **case.request(tmp_path))
    assert answer.status_code == case.status, answer.text
    detail = answer.json()["detail"]
    assert re.search(case.message, detail), detail
    if case.cli is not None:  # the CLI, on the same file under the same name
        monkeypatch.chdir(tmp_path)
        scored = runner.invoke(app, ["score", case.cli, "--model", str(small_bundle), "--json"])
        assert detail == json.loads(scored.stdout)["files"][0]["error"]
    _assert_clean(limited, answer)


def test_unknown_model_names_the_served_ones(limited: Running, tmp_path):
    answer = limited.client.post("/v1/score", **upload("a.wav", tone(), model="pump99")(tmp_path))
    assert "fan-small" in answer.json()["hint"]


def test_full_queue_answers_503_with_retry_after(small_bundle, tmp_path):
    gate, wav = Gate(), write_tone(tmp_path / "a.wav", seconds=1.5)
    config = ServeConfig(models=(str(small_bundle),), queue_size=1)
    with running(config, loader=gate.loader) as served:
        first: list = []
        thread = threading.Thread(
            target=lambda: first.append(served.client.post("/v1/score", content=wav.read_bytes()))
        )
        thread.start()
        assert gate.entered.wait(10)  # the first upload holds the only place in the queue
        busy = served.client.post("/v1/score", content=wav.read_bytes())
        gate.opened.set()
        thread.join()
        assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1
        assert "queue is full" in busy.json()["detail"]
        assert first[0].status_code == 200  # the one taken is still scored
        _assert_clean(served, busy)


def test_request_over_its_time_limit_answers_504(small_bundle, tmp_path):
    gate, wav = Gate(), write_tone(tmp_path / "a.wav", seconds=1.5)
    config = ServeConfig(models=(str(small_bundle),), request_seconds=0.5)
    with running(config, loader=gate.loader) as served:
        late = served.client.post("/v1/score", content=wav.read_bytes())
        gate.opened.set()
        assert late.status_code == 504 and "ran out of time (0.5 s) while scoring" in late.text
        _assert_clean(served, late)


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong-token-0123456789"}, 401),
     ({"Authorization": f"Basic {TOKEN}"}, 401), ({"Authorization": f"Bearer {TOKEN}"}, 200)],
    ids=["no token", "wrong token", "other scheme", "right token"],
)  # fmt: skip
def test_token(guarded: Running, headers, status):
    for route in ("/v1/models", "/metrics", "/docs", "/openapi.json"):
        answer = guarded.client.get(route, headers=headers)
        assert answer.status_code == status, route
        if status == 401:
            assert answer.headers["WWW-Authenticate"] == "Bearer"
            assert "needs a token" in answer.json()["detail"]
    assert guarded.client.get("/v1/health").status_code == 200  # open to probes


def installed(ws: Workspace) -> None:
    ws.fixture("installed_bundle")


def bad_plant(ws: Workspace) -> None:
    installed(ws)
    (ws.tmp / "plant.yaml").write_text("sources:\n  - {name: pump-1, model: fan-small}\n")


def plant_of_a_missing_folder(ws: Workspace) -> None:
    installed(ws)
    (ws.tmp / "plant.yaml").write_text(
        f"sources:\n  - {{name: pump-1, folder: {ws.tmp / 'gone'}, model: fan-small}}\n"
    )


SERVE = ["serve", "--gpu", "cpu", "--model", "fan-small"]
CLI_CASES = [
    Case("another address without a token", [*SERVE, "--host", "0.0.0.0"], 2,
         r"Listening on 0\.0\.0\.0 .* needs a token.*--token", installed),
    Case("a short token", [*SERVE, "--token", "abc"], 2, r"token has 3 characters", installed),
    Case("a watch file that is missing", [*SERVE, "--watch", "{tmp}/plant.yaml"], 2,
         r"plant\.yaml", installed),
    Case("an unknown model", ["serve", "--gpu", "cpu", "--model", "pump99", "--port", "0"], 2,
         r"pump99"),
    Case("a plant source without a folder", [*SERVE, "--port", "0", "--watch", "{tmp}/plant.yaml"],
         2, r"source 'pump-1' needs a name, a model and one of folder", bad_plant),
    Case("a plant folder that is missing", [*SERVE, "--port", "0", "--watch", "{tmp}/plant.yaml"],
         1, r"gone does not exist", plant_of_a_missing_folder),
    Case("a zero upload limit", [*SERVE, "--max-upload-mb", "0"], 2,
         r"--max-upload-mb must be positive", installed),
]  # fmt: skip

test_cli_cases = corpus_test(CLI_CASES)


def _partial_upload(url: str, sent: int, announced: int) -> socket.socket:
    """A raw connection that announces ``announced`` bytes of audio and sends ``sent``."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = (f"POST /v1/score HTTP/1.1\r\nHost: {host}\r\nContent-Type: audio/wav\r\n"
            f"Content-Length: {announced}\r\n\r\n")  # fmt: skip
    sock.sendall(head.encode() + b"\0" * sent)
    return sock


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _read_answer(sock: socket.socket) -> str:
    """The whole HTTP answer on a raw connection: its head, then the body it announces."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE)[1])
    while len(body) < length:
        body += sock.recv(65536)
    sock.close()
    return (head + b"\r\n\r\n" + body).decode()


def test_a_client_that_leaves_mid_upload_leaves_nothing_behind(limited: Running):
    threads = threading.active_count()
    for _ in range(3):
        sock = _partial_upload(limited.url, 60000, 200000)
        _wait_for(lambda: os.listdir(limited.folder), "the upload never started")
        sock.close()  # gone, with most of the body unsent
        _wait_for(lambda: not os.listdir(limited.folder), "the partial upload was kept")
    assert threading.active_count() == threads  # no worker or thread left waiting
    assert limited.server.service.scoring_queue().depth == 0
    _assert_clean(limited, limited.client.get("/v1/health"))


def test_an_upload_too_slow_for_the_time_limit_answers_408(small_bundle):
    config = ServeConfig(models=(str(small_bundle),), request_seconds=0.5)
    with running(config) as served:
        sock = _partial_upload(served.url, 1000, 100000)
        sock.settimeout(10)
        answer = _read_answer(sock)
        assert answer.startswith("HTTP/1.1 408")
        assert "ran out of time (0.5 s) while receiving the upload" in answer
        _wait_for(lambda: not os.listdir(served.folder), "the slow upload was kept")


def test_several_models_and_none_named_answers_422_naming_them(small_bundle, tmp_path):
    other = tmp_path / "fan-other.safetensors"
    shutil.copy(small_bundle, other)
    wav = write_tone(tmp_path / "a.wav", seconds=1.5)
    with running(ServeConfig(models=(str(small_bundle), str(other)))) as served:
        answer = served.client.post("/v1/score", content=wav.read_bytes())
        named = served.client.post(
            "/v1/score", params={"model": "fan-other"}, content=wav.read_bytes()
        )
        assert answer.status_code == 422 and "say which with ?model=NAME" in answer.json()["detail"]
        assert answer.json()["hint"] == "Serving: fan-other, fan-small."
        assert named.status_code == 200 and named.json()["model"] == "fan-other"
        _assert_clean(served, answer)

"""The API against a real uvicorn server on loopback, through httpx."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from aegan.cli import app
from aegan.detector.detector import Detector
from aegan.serve.config import ServeConfig
from tests.conftest import write_tone
from tests.numerics import reordered_sum_rtol
from tests.serve.conftest import Gate, running

SCORE = "G_x_2_sum"  # a score without the cancellation of the cosine ones


def _cli_json(runner, bundle, path, *options: str) -> dict:
    result = runner.invoke(app, ["score", path.name, "--model", str(bundle), "--json", *options])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("seconds", "query", "options", "windows"),
    [
        (1.5, {}, [], None),  # a clip, scored whole
        (4.0, {}, [], 3),  # long enough for a timeline by default
        (3.0, {"timeline": "true", "hop": "0.5", "score": "D_knn"},
         ["--timeline", "--hop", "0.5", "--score", "D_knn"], 4),
        (4.0, {"timeline": "false"}, ["--whole"], None),
    ],
)  # fmt: skip
def test_score_answers_what_the_cli_prints(
    service, runner, small_bundle, tmp_path, monkeypatch, seconds, query, options, windows
):
    clip = write_tone(tmp_path / "pump.wav", seconds=seconds, seed=3)
    monkeypatch.chdir(tmp_path)
    expected = _cli_json(runner, small_bundle, clip, *options)
    with clip.open("rb") as fh:
        answer = service.client.post("/v1/score", params=query, files={"file": (clip.name, fh)})
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected  # every float to the last digit
    line = expected["files"][0]["timeline"]
    assert (line and len(line["windows"])) == windows
    assert os.listdir(service.folder) == []  # the upload is gone


def test_raw_body_is_scored_like_the_same_file(
    service, runner, small_bundle, tmp_path, monkeypatch
):
    clip = write_tone(tmp_path / "upload.wav", seconds=1.5, seed=5)
    monkeypatch.chdir(tmp_path)
    expected = _cli_json(runner, small_bundle, clip)
    answer = service.client.post(
        "/v1/score", content=clip.read_bytes(), headers={"Content-Type": "audio/wav"}
    )
    assert answer.json() == expected


def test_models_health_and_metrics(service, tmp_path):
    (model,) = service.client.get("/v1/models").json()
    assert model["name"] == "fan-small" and model["machine"] == "fan" and model["year"] == 2022
    assert model["clip_seconds"] == 1.5 and model["threshold"] > 0
    assert service.client.get("/v1/health").json() == {"status": "ready", "models": ["fan-small"]}
    long = write_tone(tmp_path / "long.wav", seconds=4.0)
    scored = service.client.post("/v1/score", content=long.read_bytes()).json()
    windows = scored["files"][0]["timeline"]["windows"]
    anomalies = sum(w["decision"] == "anomaly" for w in windows)
    text = service.client.get("/metrics").text
    assert 'aegan_files_scored_total{model="fan-small"} 1.0' in text
    assert (
        f'aegan_windows_scored_total{{model="fan-small",source="upload"}} {len(windows)}.0' in text
    )
    assert f'aegan_anomalies_total{{model="fan-small",source="upload"}} {anomalies}.0' in text
    assert "aegan_queue_depth 0.0" in text
    assert 'aegan_request_seconds_count{route="score_upload",status="200"} 1.0' in text
    assert "docs" in service.client.get("/docs").text and service.client.get("/openapi.json").json()


def test_health_says_loading_until_the_models_are_in_memory(small_bundle):
    loaded = threading.Event()

    def slow(spec: str) -> Detector:
        assert loaded.wait(10)
        return Detector.load(spec)

    with running(ServeConfig(models=(str(small_bundle),)), loader=slow, wait_ready=False) as s:
        early = s.client.get("/v1/health")
        refused = s.client.post("/v1/score", content=b"RIFF")
        loaded.set()
        assert s.server.service.ready.wait(10)
        assert early.status_code == 503 and early.json()["status"] == "loading"
        assert refused.status_code == 503 and "not in memory yet" in refused.json()["detail"]
        assert s.client.get("/v1/health").status_code == 200


def test_concurrent_requests_share_one_network_batch(small_bundle, tmp_path):
    gate, batches = Gate(), []
    clips = [write_tone(tmp_path / f"c{i}.wav", seconds=1.5, seed=i) for i in range(4)]

    def counting(spec: str) -> Detector:
        detector = gate.loader(spec)
        held = detector.score_spectrograms
        detector.score_spectrograms = lambda specs, **kw: (
            batches.append(len(specs)) or held(specs, **kw)
        )
        return detector

    def post(client, clip):
        with clip.open("rb") as fh:
            return client.post(
                "/v1/score", params={"score": SCORE}, files={"file": (clip.name, fh)}
            )

    with running(ServeConfig(models=(str(small_bundle),)), loader=counting) as served:
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(post, served.client, clips[0])
            assert gate.entered.wait(10)  # the worker holds the first clip at the network pass
            rest = [pool.submit(post, served.client, clip) for clip in clips[1:]]
            while served.server.service.queue.depth < 4:
                time.sleep(0.01)
            gate.opened.set()
            answers = [f.result().json()["files"][0] for f in [first, *rest]]
        alone = [post(served.client, clip).json()["files"][0] for clip in clips]
    assert batches[:2] == [1, 3]  # the three that waited went through the networks together
    for shared, single in zip(answers, alone, strict=True):
        assert shared["file"] == single["file"] and shared["decision"] == single["decision"]
        assert shared["score"] == pytest.approx(single["score"], rel=reordered_sum_rtol(32 * 32))

"""The API against a real uvicorn server on loopback, through httpx."""

from __future__ import annotations

import json
import os

import pytest

from aegan.cli import app
from tests.conftest import write_tone


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

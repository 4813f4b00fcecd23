"""A watched plant inside the service: sources, the event stream and a source's windows."""

from __future__ import annotations

import json
import time

import httpx

from tests.serve.conftest import Running


def _events(client: httpx.Client, count: int, **request) -> list[tuple[int, str, dict]]:
    """The first ``count`` events of a stream: (id, event name, data)."""
    got, fields = [], {}
    with client.stream("GET", "/v1/events", **request) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith(("id:", "event:", "data:")):
                key, _, value = line.partition(": ")
                fields[key.rstrip(":")] = value
            elif not line and "data" in fields:
                got.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                fields = {}
                if len(got) == count:
                    break
    return got


def test_sources_windows_and_events(plant_service: Running):
    client = plant_service.client
    (source,) = client.get("/v1/sources").json()["sources"]
    assert source["name"] == "pump-1" and source["model"] == "fan-small"
    windows = client.get("/v1/sources/pump-1/windows").json()
    assert [w["seq"] for w in windows] == list(range(len(windows))) and len(windows) >= 6
    later = client.get("/v1/sources/pump-1/windows", params={"since": 3}).json()
    assert [w["seq"] for w in later] == [w["seq"] for w in windows[4:]]
    since = windows[2]["place"]["end"]
    timed = client.get("/v1/sources/pump-1/windows", params={"since": since}).json()
    assert timed == [w for w in windows if w["place"]["end"] > since]  # ISO UTC sorts as time
    assert {w["place"]["file"] for w in timed} == {"03.wav", "04.wav", "05.wav", "06.wav"}
    events = _events(client, 8, params={"after": 0})
    assert [number for number, _, _ in events] == list(range(1, 9))
    assert events[0][1] == "source_started"
    scored = [data for _, kind, data in events if kind == "window"]
    assert scored[:3] == windows[:3]  # the stream and the windows route tell the same story
    assert [w["anomalous"] for w in windows[4:6]] == [True, True]  # the whistles
    alert = client.get("/v1/sources").json()["sources"][0]["alerts"][0]
    assert alert["worst"]["seq"] in (4, 5) and alert["start"] == windows[4]["place"]["start"]
    metrics = client.get("/metrics").text
    assert (
        f'aegan_windows_scored_total{{model="fan-small",source="pump-1"}} {len(windows)}.0'
        in metrics
    )
    assert 'aegan_alert_open{source="pump-1"}' in metrics


def test_a_stream_resumes_after_the_last_event_id(plant_service: Running):
    first = _events(plant_service.client, 6, params={"after": 0})
    resumed = _events(plant_service.client, 3, headers={"Last-Event-ID": str(first[2][0])})
    assert resumed == first[3:6]


def test_a_client_that_leaves_mid_stream_leaves_nothing_behind(plant_service: Running):
    log = plant_service.server.service.watch.log
    for _ in range(3):
        _events(plant_service.client, 1, params={"after": 0})  # read one event, hang up
    deadline = time.monotonic() + 10
    while log.streams:
        assert time.monotonic() < deadline, f"{log.streams} streams still held"
        time.sleep(0.05)


def test_bad_source_requests(plant_service: Running, service: Running):
    unknown = plant_service.client.get("/v1/sources/pump-9/windows")
    assert unknown.status_code == 404 and "pump-1" in unknown.json()["hint"]
    bad = plant_service.client.get("/v1/sources/pump-1/windows", params={"since": "yesterday"})
    assert bad.status_code == 422 and "neither a window number nor a time" in bad.json()["detail"]
    for route in ("/v1/sources", "/v1/events", "/v1/sources/pump-1/windows"):
        absent = service.client.get(route)
        assert absent.status_code == 404 and "--watch" in absent.json()["hint"]

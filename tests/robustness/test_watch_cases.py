"""Corpus cases: `aegan watch` refuses what cannot work before it listens, with one message."""

from __future__ import annotations

import sys

from tests.robustness.corpus import Case, Workspace, corpus_test

WATCH = ["watch", "--gpu", "cpu", "--model", "fan-small", "--heartbeat", "0"]


def recorder_folder(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    (ws.tmp / "rec").mkdir()


def events_under_a_file(ws: Workspace) -> None:
    recorder_folder(ws)
    (ws.tmp / "log").write_text("a file, not a folder")


def no_portaudio(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    ws.fixture("monkeypatch").setitem(sys.modules, "sounddevice", None)


def no_watchdog(ws: Workspace) -> None:
    recorder_folder(ws)
    ws.fixture("monkeypatch").setitem(sys.modules, "watchdog.observers", None)


def plant_file(text: str):
    def setup(ws: Workspace) -> None:
        recorder_folder(ws)
        (ws.tmp / "plant.yaml").write_text(text.format(tmp=ws.tmp))

    return setup


# fmt: off
CASES = [
    Case("watch: a folder that does not exist", [*WATCH, "{tmp}/missing"], 1,
         r"missing does not exist\. Give the folder the recorder writes into", recorder_folder),
    Case("watch: a model that is not there", ["watch", "{tmp}/rec", "--model", "nosuch"], 2,
         r"Unknown model .nosuch.\. See .aegan models.", recorder_folder),
    Case("watch: an event log that cannot be written",
         [*WATCH, "{tmp}/rec", "--events", "{tmp}/log/events.jsonl"], 1,
         r"Cannot write the event log .*log/events\.jsonl", events_under_a_file),
    Case("watch: nothing to watch", WATCH, 2, r"There is nothing to watch", recorder_folder),
    Case("watch: no model", ["watch", "{tmp}/rec"], 2, r"Give the model to score with",
         recorder_folder),
    Case("watch: an alert rule of more windows than it looks at",
         [*WATCH, "{tmp}/rec", "--alert", "6/5"], 2, r"alert rule 6/5 with clear 5 is not possible",
         recorder_folder),
    Case("watch: an alert rule that is not K/N", [*WATCH, "{tmp}/rec", "--alert", "three"], 2,
         r"Cannot read the alert rule 'three'", recorder_folder),
    Case("watch: an unknown raw format", [*WATCH, "-", "--format", "mp3"], 2,
         r"Unknown raw format 'mp3'", recorder_folder),
    Case("watch: a raw stream of zero channels", [*WATCH, "-", "--format", "s16le",
         "--channels", "0"], 2, r"needs a positive rate and channel count", recorder_folder),
    Case("watch: a webhook that is not http", [*WATCH, "{tmp}/rec", "--webhook", "ftp://x"], 2,
         r"The webhook 'ftp://x' is not an http\(s\) URL", recorder_folder),
    Case("watch: a hop of zero", [*WATCH, "{tmp}/rec", "--hop", "0"], 2,
         r"The hop must be a positive number of seconds", recorder_folder),
    Case("watch: standard input twice", [*WATCH, "-", "-"], 2,
         r"Standard input \(-\) can be watched once only", recorder_folder),
    Case("watch: a sound card without PortAudio", [*WATCH, "--device", "0"], 1,
         r"Sound cards cannot be used.*libportaudio2.*arecord", no_portaudio),
    Case("watch: a folder without watchdog installed", [*WATCH, "{tmp}/rec"], 1,
         r"Watching a folder needs the watchdog package.*aegan\[watch\]", no_watchdog),
    Case("watch: --list-devices without PortAudio", ["watch", "--list-devices"], 1,
         r"Sound cards cannot be used.*libportaudio2", no_portaudio),
    Case("watch: a plant file with an unknown key",
         ["watch", "--config", "{tmp}/plant.yaml"], 2, r"source 'a': unknown key 'modle'",
         plant_file("sources:\n  - {{name: a, folder: '{tmp}/rec', modle: fan-small}}\n")),
    Case("watch: a plant file source without a model",
         ["watch", "--config", "{tmp}/plant.yaml"], 2, r"needs a name, a model and one of",
         plant_file("sources:\n  - {{name: a, folder: '{tmp}/rec'}}\n")),
    Case("watch: a plant file with two sources of one name",
         ["watch", "--config", "{tmp}/plant.yaml"], 2, r"Every source needs a name of its own",
         plant_file("defaults: {{model: fan-small}}\nsources:\n  - {{name: a, folder: '{tmp}/rec'}}\n"
                    "  - {{name: a, folder: '{tmp}/rec'}}\n")),
    Case("watch: a plant file that is not YAML", ["watch", "--config", "{tmp}/plant.yaml"], 2,
         r"plant\.yaml is not valid YAML", plant_file("sources: [\n")),
    Case("watch: a plant file without sources", ["watch", "--config", "{tmp}/plant.yaml"], 2,
         r"plant\.yaml lists no sources", plant_file("heartbeat: 5\n")),
]
# fmt: on

test_cases = corpus_test(CASES)

"""Corpus cases: many files into part files, Dask engines, sweeps per machine type."""

from __future__ import annotations

import socket

import numpy as np

from aegan.fleet.batch import score_fleet
from aegan.fleet.inputs import gather_entries
from tests.robustness.corpus import Case, Workspace, corpus_test, synthetic_data, write_wav

OUT = ["--out", "{tmp}/out"]
SCORE = ["score", "{tmp}/tone.wav", "-m", "fan-small", *OUT]


def tone(ws: Workspace) -> None:
    """The small model and a 4-s tone to score with it."""
    ws.fixture("installed_bundle")
    write_wav(ws.tmp / "tone.wav", 0.1 * np.sin(np.arange(64000) / 5.0))


def manifest(content: str | bytes):
    def setup(ws: Workspace) -> None:
        tone(ws)
        data = content.encode() if isinstance(content, str) else content
        (ws.tmp / "files.csv").write_bytes(data)

    return setup


def folder_of_another_run(ws: Workspace) -> None:
    """--out holds the parts of a run on another file list."""
    tone(ws)
    write_wav(ws.tmp / "other.wav", 0.1 * np.ones(64000))
    score_fleet(gather_entries([str(ws.tmp / "other.wav")], "fan-small", None), ws.tmp / "out")


def damaged_plan(ws: Workspace) -> None:
    tone(ws)
    (ws.tmp / "out").mkdir()
    (ws.tmp / "out" / "_plan.json").write_text("{not json")


def closed_port(ws: Workspace) -> None:
    tone(ws)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        ws.values["port"] = str(sock.getsockname()[1])  # closed when the case runs


# fmt: off
CASES = [
    Case("fleet: --workers 0", [*SCORE, "--workers", "0"], 2,
         r"--workers must be 1 or more, not 0", tone),
    Case("fleet: --workers and --scheduler", [*SCORE, "--workers", "2", "--scheduler",
         "tcp://127.0.0.1:8786"], 2, r"Use --workers .* or --scheduler .*, not both", tone),
    Case("fleet: --workers without --out", ["score", "{tmp}/tone.wav", "-m", "fan-small",
         "--workers", "2"], 2, r"write their rows to part files", tone),
    Case("fleet: a scheduler address without a port", [*SCORE, "--scheduler", "tcp://host"], 2,
         r"'tcp://host' is not a scheduler address: missing port number", tone),
    Case("fleet: an address of another scheme", [*SCORE, "--scheduler", "http://host:8786"], 2,
         r"'http://host:8786' is not a scheduler address: unknown address scheme 'http'", tone),
    Case("fleet: no scheduler listens at the address",
         [*SCORE, "--scheduler", "tcp://127.0.0.1:{port}"], 1,
         r"Cannot reach the Dask scheduler at tcp://127\.0\.0\.1:\d+", closed_port),
    Case("fleet: --plot with --out", [*SCORE, "--plot", "{tmp}/pics"], 2,
         r"--plot draws the timelines of one run's table", tone),
    Case("fleet: an unknown precision", [*SCORE, "--precision", "fp16"], 2,
         r"Unknown precision 'fp16'", tone),
    Case("fleet: an unknown part format", [*SCORE, "--out-format", "xlsx"], 2,
         r"Unknown output format 'xlsx'", tone),
    Case("fleet: chunks of no files", [*SCORE, "--chunk-files", "0"], 2,
         r"A chunk holds 1 file or more, not 0", tone),
    Case("fleet: a missing manifest", ["score", "--manifest", "{tmp}/nope.csv", *OUT], 2,
         r"The manifest .*nope\.csv does not exist", tone),
    Case("fleet: a manifest without a path column",
         ["score", "--manifest", "{tmp}/files.csv", "-m", "fan-small", *OUT], 2,
         r"has no 'path' column \(its columns: file, model\)", manifest("file,model\nx.wav,a\n")),
    Case("fleet: a manifest line without a model and no --model",
         ["score", "--manifest", "{tmp}/files.csv", *OUT], 2,
         r"Line 3 of .*files\.csv has no model", manifest("path,model\ntone.wav,fan-small\ntone.wav,\n")),
    Case("fleet: a manifest naming an unknown model",
         ["score", "--manifest", "{tmp}/files.csv", *OUT], 2,
         r"Unknown model 'fan-smal'", manifest("path,model\ntone.wav,fan-smal\n")),
    Case("fleet: a manifest that is not text",
         ["score", "--manifest", "{tmp}/files.csv", *OUT], 2,
         r"is not a UTF-8 CSV file", manifest(b"path\n\xff\xfe.wav\n")),
    Case("fleet: --out holds another run's parts", SCORE, 2,
         r"holds the results of other inputs or settings \(part-00000-\w+\.parquet",
         folder_of_another_run),
    Case("fleet: --out holds a damaged plan", SCORE, 2,
         r"plan\.json is damaged", damaged_plan),
    Case("sweep: a machine type and --all", ["test", "fan", "--all", "--data-dir", "{data}"], 2,
         r"Name one machine type, or give --all", synthetic_data),
    Case("sweep: --all with --data", ["test", "--all", "--data", "{tmp}"], 2,
         r"--all, --workers and --scheduler test DCASE machine types"),
    Case("sweep: training --all under one name", ["train", "--all", "--name", "x"], 2,
         r"train DCASE machine types under default names"),
    Case("sweep: prepare with neither a machine type nor --all", ["prepare"], 2,
         r"Name a machine type, or give --all"),
]
# fmt: on

test_cases = corpus_test(CASES)

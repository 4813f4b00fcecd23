"""Corpus cases: long recordings, timelines and stretches."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from tests.robustness.corpus import Case, Workspace, corpus_test, long_recording, write_wav

SCORE = ["score", "--gpu", "cpu", "--model", "fan-small", "{tmp}/long.wav"]


def nan_in_a_long_recording(ws: Workspace) -> None:
    long_recording(ws)
    samples = sf.read(str(ws.tmp / "long.wav"))[0]
    samples[50000] = np.nan
    write_wav(ws.tmp / "long.wav", samples)


def silent_long_recording(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    write_wav(ws.tmp / "long.wav", np.zeros(96000))


# fmt: off
CASES = [
    Case("timeline: a hop of zero", [*SCORE, "--hop", "0"], 2,
         r"The hop must be a positive number of seconds, not 0\.0", long_recording),
    Case("timeline: a hop of nan", [*SCORE, "--hop", "nan"], 2,
         r"The hop must be a positive number of seconds, not nan", long_recording),
    Case("timeline: --timeline and --whole", [*SCORE, "--timeline", "--whole"], 2,
         r"use --timeline or --whole, not both", long_recording),
    Case("score: an unknown precision", [*SCORE, "--precision", "fp16"], 2,
         r"Unknown precision 'fp16'", long_recording),
    Case("timeline: a long recording that is all digital silence", [*SCORE, "--json"], 1,
         r"long\.wav is unusable: it is digital silence", silent_long_recording),
    Case("timeline: one NaN sample makes the whole recording unusable", [*SCORE, "--json"], 1,
         r"long\.wav is unusable: its samples include NaN or infinity", nan_in_a_long_recording),
]
# fmt: on

test_cases = corpus_test(CASES)

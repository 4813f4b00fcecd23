"""The feature cache between runs and processes: size limit, killed runs, runs at once."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np

from aegan import paths
from aegan.config import schema as config
from aegan.config.settings import save_setting
from aegan.dcase import clips as dcase
from aegan.features.cache import _cache_files, cache_key, cache_stem, load_or_compute
from tests.conftest import write_tone

SMALL = config.FeatureConfig(n_mels=32, segment_frames=32)
TRAIN = "dev_data/fan/train"

# A child process computing the features of ROOT's clips; prints a line per event.
CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from aegan.config import schema as config
    from aegan.dcase import clips as dcase
    from aegan.features.cache import load_or_compute

    root, top_db, action = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]

    def progress(task, done, total):
        print(json.dumps({"task": task, "done": done}), flush=True)
        if action == "die" and done == 1:
            os.kill(os.getpid(), 9)  # as `kill -9` during prepare
        if action == "slow":
            time.sleep(0.05)

    clips = dcase.discover(root, 2022, "fan", "dev", "train")
    cfg = config.FeatureConfig(n_mels=32, segment_frames=32, top_db=top_db)
    _, cached = load_or_compute(clips, cfg, "dev_train", progress)
    print(json.dumps({"cached": cached}), flush=True)
    """
)


def _clips(root, n=4):
    return [
        dcase.parse_clip_name(
            write_tone(root / TRAIN / f"section_00_source_train_normal_{i:04d}.wav", 1.5, seed=i),
            2022,
            "fan",
            "dev",
            "train",
        )
        for i in range(n)
    ]


def _child(root, action="", top_db=80.0):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(top_db), action],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def _entries():
    return sorted(p.name for p in paths.features_dir().rglob("*.npy") if not p.name.startswith("."))


def _staging():
    return sorted(p.name for p in paths.features_dir().rglob(f"*{paths.STAGING_SUFFIX}"))


def test_least_recently_used_entries_go_when_the_cache_outgrows_its_limit(tmp_path):
    clips = _clips(tmp_path)
    settings = [dataclasses.replace(SMALL, top_db=db) for db in (60.0, 70.0, 80.0)]
    first, _ = load_or_compute(clips, settings[0], "dev_train")
    second, _ = load_or_compute(clips, settings[1], "dev_train")
    entry_bytes = os.path.getsize(first.path) + os.path.getsize(first.path.with_suffix(".json"))
    save_setting("cache.features_max_gb", str(2.5 * entry_bytes / 2**30))
    os.utime(first.path.with_suffix(".json"), (1, 1))  # both long unused, the first longer
    os.utime(second.path.with_suffix(".json"), (2, 2))
    _, cached = load_or_compute(clips, settings[0], "dev_train")  # use the first again
    assert cached
    third, _ = load_or_compute(clips, settings[2], "dev_train")
    assert _entries() == sorted([first.path.name, third.path.name])  # the second went


def test_an_entry_larger_than_the_limit_is_still_kept_for_its_run(tmp_path):
    clips = _clips(tmp_path)
    save_setting("cache.features_max_gb", "1e-9")
    features, _ = load_or_compute(clips, SMALL, "dev_train")
    assert _entries() == [features.path.name]
    assert np.isfinite(np.asarray(features.data)).all()


def test_a_killed_prepare_leaves_a_part_file_that_the_next_run_sweeps(tmp_path):
    _clips(tmp_path)
    child = _child(tmp_path, "die")
    child.communicate(timeout=120)
    assert child.returncode == -9
    assert len(_staging()) == 1 and _entries() == []  # the half-written features
    rerun = _child(tmp_path)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert json.loads(out.splitlines()[-1]) == {"cached": False}
    assert _staging() == [] and len(_entries()) == 1


def test_a_prepare_waits_while_another_process_writes_the_same_entry(tmp_path):
    clips = _clips(tmp_path)
    npy, _ = _cache_files(cache_stem(clips, "dev_train"), cache_key(clips, SMALL))
    with paths.file_lock(npy):  # as another prepare that is computing this entry
        child = _child(tmp_path)
        first_line = json.loads(child.stdout.readline())
        assert first_line == {"task": "dev_train: waiting for another aegan", "done": 0}
        assert child.poll() is None and _staging() == []  # it waits and writes nothing
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert json.loads(out.splitlines()[-1]) == {"cached": False}
    assert len(_entries()) == 1


def test_two_prepares_at_once_compute_the_features_once(tmp_path):
    _clips(tmp_path)
    children = [_child(tmp_path, "slow") for _ in range(2)]
    results = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], results
    flags = sorted(json.loads(out.splitlines()[-1])["cached"] for out, _ in results)
    assert flags == [False, True]
    assert len(_entries()) == 1 and _staging() == []

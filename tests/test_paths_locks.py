"""Inter-process file locks and the sweeping of stale staging files (aegan.paths)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

from aegan import paths

HOLD = """
import sys, time
from pathlib import Path
from aegan import paths
target = Path(sys.argv[1])
with {context}:
    print("holding", flush=True)
    time.sleep(60)
"""


def _holder(target: Path, context: str) -> subprocess.Popen:
    """Another process holding ``context`` (a lock or a staging entry) until killed."""
    code = HOLD.format(context=context)
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_threads_take_turns_and_the_waiter_is_told(tmp_path: Path) -> None:
    target = tmp_path / "model.pth"
    inside, order, told = threading.Event(), [], []

    def first() -> None:
        with paths.file_lock(target):
            inside.set()
            order.append("first in")
            threading.Event().wait(0.3)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(10)
    with paths.file_lock(target, on_wait=lambda: told.append(True)):
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"] and told == [True]
    assert not paths.lock_file(target).exists()  # no lock file is left behind


def test_a_thread_may_take_its_own_lock_again(tmp_path: Path) -> None:
    with paths.file_lock(tmp_path / "x"), paths.file_lock(tmp_path / "x"):
        assert paths.lock_file(tmp_path / "x").exists()
    assert not paths.lock_file(tmp_path / "x").exists()


def test_a_process_waits_for_another_and_a_killed_holder_releases_it(tmp_path: Path) -> None:
    target = tmp_path / "dev_fan.zip"
    proc = _holder(target, "paths.file_lock(target)")
    told = threading.Event()
    acquired = threading.Event()

    def wait_for_lock() -> None:
        with paths.file_lock(target, on_wait=told.set):
            acquired.set()

    waiter = threading.Thread(target=wait_for_lock)
    waiter.start()
    assert told.wait(10) and not acquired.wait(0.3)
    _kill(proc)  # kill -9: the OS releases the lock
    waiter.join(10)
    assert acquired.is_set() and not paths.lock_file(target).exists()


def test_sweep_removes_dead_staging_entries_and_keeps_live_ones(tmp_path: Path) -> None:
    dead_file = tmp_path / ".a.npy.k3j2h1x0.npy.part"
    dead_file.write_bytes(b"half")
    (tmp_path / ".b.zip.x1y2z3w4.part").mkdir()
    (tmp_path / ".b.zip.x1y2z3w4.part" / "f.wav").write_bytes(b"x")
    resumable = tmp_path / "c.zip.part"  # a download's resumable part is not staging
    resumable.write_bytes(b"keep")
    killed = _holder(tmp_path / "d.npy", "paths.atomic_path(target)")
    alive = _holder(tmp_path / "e.npy", "paths.staging_dir(target)")
    try:
        with paths.atomic_path(tmp_path / "f.npy") as mine:
            mine.write_bytes(b"mine")
            _kill(killed)
            removed = paths.sweep_stale(tmp_path)
            assert mine.exists()
        names = sorted(p.name.split(".")[1] for p in removed)
        assert names == ["a", "b", "d"]
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left[0].startswith(".e.npy.") and left[1:] == ["c.zip.part", "f.npy"]
    finally:
        _kill(alive)
    assert paths.sweep_stale(tmp_path)[0].name.startswith(".e.npy.")  # its writer died
    assert paths.sweep_stale(tmp_path / "missing") == []


def test_staging_dir_is_removed_after_use(tmp_path: Path) -> None:
    with paths.staging_dir(tmp_path / "dev_fan.zip") as staging:
        (staging / "a.wav").write_bytes(b"x")
        assert staging.name.startswith(".dev_fan.zip.") and staging.name.endswith(".part")
    assert list(tmp_path.iterdir()) == []

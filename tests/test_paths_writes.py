"""What aegan's writes leave on disk: file modes that follow the umask, folders replaced
whole, and space reserved before a memory-mapped file is filled."""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aegan import files, paths


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@settings(max_examples=20, deadline=None)
@given(mask=st.integers(0, 0o777))
def test_files_and_staged_folders_get_the_modes_the_umask_gives(tmp_path_factory, mask):
    folder = tmp_path_factory.mktemp("modes")
    before = os.umask(mask)
    try:
        assert files.current_umask() == mask
        paths.write_text_atomic(folder / "report.md", "text")
        with paths.staging_dir(folder / "results") as staged:
            staged_mode = mode_of(staged)
        with open(folder / "plain.txt", "w"):  # what open() gives under this umask
            pass
    finally:
        os.umask(before)
    assert mode_of(folder / "report.md") == mode_of(folder / "plain.txt") == 0o666 & ~mask
    assert staged_mode == 0o777 & ~mask


def test_a_replaced_folder_holds_only_the_new_files(tmp_path):
    target = tmp_path / "results"
    target.mkdir()
    (target / "old.csv").write_text("earlier model")
    (target / "results.json").write_text("{}")
    with paths.staging_dir(target) as staged:
        (staged / "results.json").write_text('{"new": true}')
        files.replace_dir(staged, target)
    assert sorted(p.name for p in target.iterdir()) == ["results.json"]
    assert (target / "results.json").read_text() == '{"new": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["results"]  # nothing aside is left


def test_a_failed_swap_puts_the_old_folder_back(tmp_path):
    target = tmp_path / "results"
    target.mkdir()
    (target / "results.json").write_text("old")
    staged = tmp_path / "missing"  # a staged folder that is gone: its rename fails
    with pytest.raises(FileNotFoundError):
        files.replace_dir(staged, target)
    assert (target / "results.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


def test_preallocated_space_is_on_the_disk_before_any_write(tmp_path):
    sparse = tmp_path / "sparse.bin"
    with open(sparse, "wb") as fh:
        fh.truncate(8 << 20)  # what a memory map of a new .npy starts from
    assert sparse.stat().st_blocks * 512 < 1 << 20
    files.preallocate(sparse)
    assert sparse.stat().st_blocks * 512 >= 8 << 20
    assert sparse.stat().st_size == 8 << 20


def test_printable_names_show_bytes_that_are_not_utf8():
    name = os.fsdecode(b"clips/bad\xff.wav")
    assert not files.is_utf8_name(name) and files.is_utf8_name("clips/caf\u00e9.wav")
    assert files.printable(name) == "clips/bad\\xff.wav"
    assert files.printable("clips/caf\u00e9.wav") == "clips/caf\u00e9.wav"


class FillingFile(io.BytesIO):
    """A file on a drive that fills after ``room`` bytes."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data) -> int:
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def test_torch_save_on_a_full_drive_raises_the_oserror_not_torchs_own():
    payload = {"weights": torch.zeros(50_000)}
    with pytest.raises(OSError) as caught:
        files.save_torch(payload, FillingFile(room=4096))
    assert caught.value.errno == errno.ENOSPC
    whole = FillingFile(room=1 << 30)
    files.save_torch(payload, whole)  # with room, the same call writes a loadable file
    whole.seek(0)
    assert torch.equal(torch.load(whole, weights_only=True)["weights"], payload["weights"])

"""An own data set: a plain folder of recordings with any names, as ``Clip`` records.

The layout a user keeps for a machine of their own::

    DIR/train/**/<any name>.wav        normal recordings (required)
    DIR/test/normal/**/<any name>.wav  a labelled test set (optional, both folders)
    DIR/test/anomaly/**/<any name>.wav

File names carry nothing: the folder says what a recording is. Every clip
of an own data set forms one group (as one DCASE section) in the source
domain, so the DCASE figures (docs/method.md section 6) apply unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aegan.dcase.clips import AUDIO_SUFFIXES, Clip
from aegan.dcase.facts import edition
from aegan.errors import DataError

OWN_SUBSET = "own"
OWN_GROUP = "00"
LABELS = {"normal": 0, "anomaly": 1}
"""The test folders and the label their recordings get."""


@dataclass(frozen=True)
class OwnData:
    """A plain data folder (resolved); picklable, so it travels to every training process."""

    folder: Path

    @classmethod
    def at(cls, folder: Path | str, *, train: bool = True) -> OwnData:
        """The data set at ``folder``; a clear error when the folder, or (``train``: to train
        on it) its train/, is missing. Testing needs test/ alone (``test_clips`` checks it)."""
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise DataError(
                f"Data folder {path} does not exist.",
                "Pass --data DIR, a folder holding train/ (normal recordings) and optionally "
                "test/normal/ and test/anomaly/.",
            )
        if train and not (path / "train").is_dir():
            raise DataError(
                f"{path} has no train/ folder.",
                f"Put the normal recordings to train on in {path / 'train'} (any names, "
                "subfolders allowed).",
            )
        return cls(path.resolve())

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def key(self) -> str:
        """A short digest of the folder's path: its feature caches never mix with another's."""
        return hashlib.sha256(str(self.folder).encode()).hexdigest()[:10]

    def set_name(self, split: str) -> str:
        """The feature-cache name of this folder's ``train`` or ``test`` set."""
        return f"own-{self.name}-{self.key}-{split}"

    @property
    def has_test(self) -> bool:
        return (self.folder / "test").is_dir()

    def train_clips(self, year: int, machine: str) -> list[Clip]:
        """Every recording under train/, labelled normal; ``year`` and ``machine`` name the settings."""
        files = _audio_under(self.folder / "train")
        return [self._clip(p, year, machine, "train", 0, i) for i, p in enumerate(files)]

    def test_clips(self, year: int, machine: str) -> list[Clip]:
        """The labelled test set: every recording under test/normal/ and test/anomaly/."""
        test = self.folder / "test"
        if not test.is_dir():
            raise DataError(
                f"{self.folder} has no test/ folder, so there is nothing to test on.",
                f"Put normal test recordings in {test / 'normal'} and anomalous ones in "
                f"{test / 'anomaly'}.",
            )
        clips: list[Clip] = []
        for folder, label in LABELS.items():
            files = _audio_under(test / folder)
            clips += [self._clip(p, year, machine, "test", label, len(clips) + i)
                      for i, p in enumerate(files)]  # fmt: skip
        return clips

    def _clip(self, path: Path, year: int, machine: str, split: str, label: int, i: int) -> Clip:
        return Clip(
            path=path, year=year, machine=machine, subset=OWN_SUBSET, split=split,
            group=OWN_GROUP, index=f"{i:05d}", label=label,
            domain="source" if edition(year).has_domains else None, data_folder=self.folder,
        )  # fmt: skip


def _audio_under(folder: Path) -> list[Path]:
    """Audio files under ``folder`` and its subfolders, by path; hidden files are skipped."""
    if not folder.is_dir():
        raise DataError(
            f"{folder} is missing.",
            f"Create it and put the recordings there ({', '.join(AUDIO_SUFFIXES)} files).",
        )
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in AUDIO_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise DataError(
            f"{folder} holds no audio files ({', '.join(AUDIO_SUFFIXES)}).",
            "Put the recordings there (subfolders are searched too).",
        )
    return files


def own_folder(clips: list[Clip]) -> Path | None:
    """The own data folder the clips come from, or None for DCASE clips."""
    return clips[0].data_folder if clips else None


def test_set_name(folder: Path | None) -> str:
    """What validation and tests score: DCASE's "dev test" set, or an own folder's ``test``."""
    return "dev test" if folder is None else f"{folder.name}/test"


def relative_name(clip: Clip) -> str:
    """A clip's path within its own data folder (DCASE clips: the file name)."""
    if clip.data_folder is None:
        return clip.name
    return clip.path.relative_to(clip.data_folder).as_posix()

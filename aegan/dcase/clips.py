"""DCASE Task 2 clips: file names and data discovery (the editions' facts: ``facts``).

A clip's file name carries everything the method needs to know about it: its
machine ID (2020) or section (2022), its domain (2022), and for the dev test set
its label. ``parse_clip_name`` turns a name into a ``Clip``; ``discover`` finds a
machine's clips under a dataset root laid out as the challenge ships it::

    <root>/dev_data/<machine>/{train,test}/*.wav
    <root>/eval_data/<machine>/{train,test}/*.wav
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from aegan.dcase.facts import attribute_keys, edition, short_year
from aegan.errors import DataError, UsageError

TRAIN_SETS = ("dev", "eval", "deval")

SYNTHETIC_MARKER = "aegan-synthetic.json"
"""Written by aegan.synth.dataset at the root of a data set it made (holds the SynthSpec)."""

AUDIO_SUFFIXES = (".wav", ".flac")

_NAME_MACHINE_ID = re.compile(r"^(?:(?P<label>normal|anomaly)_)?id_(?P<group>\d+)_(?P<index>\d+)$")
_NAME_SECTION = re.compile(
    r"^section_(?P<group>\d+)_(?P<domain>source|target)_(?P<split>train|test)_"
    r"(?P<label>normal|anomaly)_(?P<index>\d+)(?:_(?P<attrs>.*))?$"
)
_NAME_SECTION_EVAL = re.compile(
    r"^section_(?P<group>\d+)_(?:(?P<domain>source|target)_test_)?(?P<index>\d+)$"
)
"""Unlabelled eval test clips: section_03_0000.wav, or with the domain (2021) section_03_source_test_0000.wav."""
_NAME_SUPPLEMENTAL = re.compile(
    r"^section_(?P<group>\d+)_(?P<kind>[A-Za-z]+)_(?P<index>\d+)(?:_(?P<attrs>.*))?$"
)
"""Supplementary recordings (2025): section_00_machine_0001_<attrs>.wav (clean machine sound or noise)."""


@dataclass(frozen=True)
class Clip:
    """One recording and what its name says about it.

    ``group`` is the machine ID (2020) or section (2022), two digits as in the
    name; it is what the figures of merit are computed per. ``label`` is 0
    (normal), 1 (anomaly) or None (unlabelled eval test clip). A clip of an own
    data set (``aegan.owndata.folder``) has subset ``own`` and its ``data_folder``.
    """

    path: Path
    year: int
    machine: str
    subset: str
    split: str
    group: str
    index: str
    domain: str | None = None
    label: int | None = None
    attributes: tuple[tuple[str, str], ...] = field(default=())
    data_folder: Path | None = None  # the plain folder of an own data set (None: DCASE)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label_name(self) -> str:
        return {0: "normal", 1: "anomaly", None: "unknown"}[self.label]


class ClipNameError(DataError):
    """A file name that does not follow the DCASE naming of its year."""


def split_attributes(tail: str) -> tuple[tuple[str, str], ...]:
    """Split the attribute part of a section-named file into (key, value) pairs.

    Known keys start a new pair, so values containing "_" survive; names with
    unknown keys fall back to alternating key/value tokens.
    """
    tokens = tail.split("_")
    known = attribute_keys()
    if tokens[0] in known:
        pairs: list[list[str]] = []
        for token in tokens:
            if token in known and (not pairs or pairs[-1][1:]):
                pairs.append([token])
            else:
                pairs[-1].append(token)
        return tuple((p[0], "_".join(p[1:])) for p in pairs)
    keys, values = tokens[0::2], tokens[1::2]
    if len(keys) > len(values):  # odd count: the last token belongs to the last value
        if not values:
            return ((keys[0], ""),)
        values[-1] = values[-1] + "_" + keys.pop()
    return tuple(zip(keys, values, strict=True))


def _attributes(tail: str | None, year: int) -> tuple[tuple[str, str], ...]:
    """The attribute pairs of a name's tail; none for an empty or withheld tail (noAttribute)."""
    if not tail or tail == edition(year).attributeless:
        return ()
    return split_attributes(tail)


def parse_clip_name(path: Path | str, year: int, machine: str, subset: str, split: str) -> Clip:
    """Parse a clip's file name; raise a DataError naming the file if it does not fit.

    ``year`` and ``machine`` are canonical (``MachineType``); the year's naming
    scheme (``facts.yaml``) says how the name reads.
    """
    path = Path(path)
    stem = path.stem
    common = {"path": path, "year": year, "machine": machine, "subset": subset, "split": split}
    if edition(year).naming == "machine_id":
        match = _NAME_MACHINE_ID.match(stem)
        if match:
            label = match["label"]
            if label is not None or split == "test":
                return Clip(
                    **common,
                    group=match["group"],
                    index=match["index"],
                    label=None if label is None else int(label == "anomaly"),
                )
        expected = "normal_id_00_00000000.wav, anomaly_id_02_00000003.wav or id_05_00000252.wav"
    elif split == edition(year).supplemental:
        match = _NAME_SUPPLEMENTAL.match(stem)
        if match:
            attrs = _attributes(match["attrs"], year)
            return Clip(**common, group=match["group"], index=match["index"], attributes=attrs)
        expected = "section_00_machine_0001_<attributes>.wav"
    else:
        match = _NAME_SECTION.match(stem)
        if match and match["split"] == split:
            attrs = _attributes(match["attrs"], year)
            return Clip(
                **common,
                group=match["group"],
                index=match["index"],
                domain=match["domain"],
                label=int(match["label"] == "anomaly"),
                attributes=attrs,
            )
        match = _NAME_SECTION_EVAL.match(stem)
        if match and split == "test":
            return Clip(
                **common, group=match["group"], index=match["index"], domain=match["domain"]
            )
        expected = f"section_00_source_{split}_normal_0000_<attributes>.wav" + (
            " or section_03_0000.wav" if split == "test" else ""
        )
    raise ClipNameError(
        f"Cannot parse the DCASE {year} file name {path.name!r} ({path.parent}).",
        f"Expected names like {expected}. Rename the file or move it out of the data folder.",
    )


def is_synthetic(root: Path | str) -> bool:
    """Whether ``aegan.synth.dataset`` made this data set: its figures mean nothing beside the paper's."""
    return (Path(root) / SYNTHETIC_MARKER).is_file()


def machine_dir(root: Path, subset: str, machine: str) -> Path:
    return Path(root) / f"{subset}_data" / machine


def find_machine_dir(root: Path, subset: str, machine: str) -> Path | None:
    """The machine's folder under ``root``, tolerating a different letter case on disk."""
    parent = Path(root) / f"{subset}_data"
    exact = parent / machine
    if exact.is_dir():
        return exact
    if parent.is_dir():
        for child in parent.iterdir():
            if child.is_dir() and child.name.lower() == machine.lower():
                return child
    return None


def list_audio(folder: Path) -> list[Path]:
    """Audio files in a folder (not recursive), sorted by name as the original code does."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def discover(root: Path | str, year: int, machine: str, subset: str, split: str) -> list[Clip]:
    """All clips of one machine, subset and split; an empty list when the folder is absent.

    A folder that exists but holds no audio, or holds a misnamed file, is an
    error: it is a broken download or a wrong root, never silently skipped.
    ``year`` and ``machine`` are canonical (``MachineType``).
    """
    base = find_machine_dir(Path(root), subset, machine)
    folder = base / split if base else None
    if folder is None or not folder.is_dir():
        return []
    files = list_audio(folder)
    if not files:
        raise DataError(
            f"No .wav files in {folder}.",
            "The download may be incomplete: run `aegan fetch --data` again or check the folder.",
        )
    return [parse_clip_name(p, year, machine, subset, split) for p in files]


def subsets_of(train_set: str) -> tuple[str, ...]:
    """Which subsets a ``train_set`` value trains on: dev, eval or both."""
    if train_set not in TRAIN_SETS:
        raise UsageError(
            f"Unknown train_set {train_set!r}.", f"Use one of: {', '.join(TRAIN_SETS)}."
        )
    return {"dev": ("dev",), "eval": ("eval",), "deval": ("dev", "eval")}[train_set]


def require_root(root: Path | str | None, year: int) -> Path:
    """Check that a dataset root exists, with a message saying how to get one."""
    short = short_year(year)
    if root is None:
        raise DataError(
            f"No dataset folder is configured for DCASE {year}.",
            f"Pass --data-dir DIR, set data.root{short} in the user config "
            f"(`aegan config path`), or download the data with `aegan fetch --data MACHINE --year {short}`.",
        )
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(
            f"Dataset folder {root} does not exist.",
            f"Pass --data-dir pointing at the folder that holds dev_data/ and eval_data/, "
            f"or download with `aegan fetch --data MACHINE --year {short}`.",
        )
    return root


def training_clips(root: Path | str, year: int, machine: str, train_set: str) -> list[Clip]:
    """The clips a model trains on: train splits of the subsets ``train_set`` names."""
    root = require_root(root, year)
    clips: list[Clip] = []
    for subset in subsets_of(train_set):
        found = discover(root, year, machine, subset, "train")
        if not found:
            raise DataError(
                f"No {subset} training data for {machine} ({year}) under {root}: "
                f"{machine_dir(root, subset, machine) / 'train'} is missing.",
                f"Download it with `aegan fetch --data {machine} --year {short_year(year)}`"
                + (
                    ", or train on the dev data alone: --set train_set=dev."
                    if subset == "eval"
                    else "."
                ),
            )
        clips.extend(found)
    return clips

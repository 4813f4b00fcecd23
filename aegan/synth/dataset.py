"""Synthetic machine sounds in the DCASE Task 2 layout of any edition, 2020 to 2026.

Demos and tests need data with the real tree, the real file names and real
normal/anomalous differences, without a 100 GB download. ``write_dataset``
writes such a tree under a root::

    <root>/dev_data/<machine>/{train,test}/*.wav
    <root>/eval_data/<machine>/{train,test}/*.wav
    <root>/ground_truth/...            labels of the unlabelled eval test clips

Ground truth of the eval test clips, in the official evaluators' formats
(no header, one row per clip, sorted by file name):

- 2022 (Kota-Dohi/dcase2022_evaluator), per machine type and eval section:
  ``ground_truth/ground_truth_data/ground_truth_<mt>_section_<ss>_test.csv``
  with rows ``section_03_0000.wav,<0 normal | 1 anomaly>`` and
  ``ground_truth/ground_truth_domain/ground_truth_<mt>_section_<ss>_test.csv``
  with rows ``section_03_0000.wav,<0 source | 1 target>``.
- 2020 (y-kawagu/dcase2020_task2_evaluator): one ``ground_truth/eval_data_list.csv``
  holding, per machine type, a line with the type's name followed by rows
  ``id_01_00000003.wav,anomaly_id_01_00000001.wav,1`` (eval name, the name it
  would have in the dev naming, label).

The plan (which clips, their names) is ``aegan.synth.plan``, the ground-truth
files ``aegan.synth.ground_truth`` and the sound of each clip (the machine
voice and the anomalies) ``aegan.synth.sound``; this module writes the tree.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from aegan.dcase.clips import SYNTHETIC_MARKER, list_audio
from aegan.errors import DataError
from aegan.paths import atomic_path, write_text_atomic
from aegan.progress import Progress, no_progress
from aegan.synth.ground_truth import write_ground_truth
from aegan.synth.plan import PlannedClip, SynthSpec, plan_clips
from aegan.synth.sound import synthesize_pcm16
from aegan.synth.stereo import two_microphones


@dataclass(frozen=True)
class SynthSummary:
    """What was written: clip counts keyed (machine, subset, split, group)."""

    root: Path
    counts: dict[tuple[str, str, str, str], int]
    ground_truth: tuple[Path, ...] = field(default=())

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _clip_samples(spec: SynthSpec, clip: PlannedClip) -> np.ndarray:
    """A clip's samples from a generator seeded by the spec's seed and the clip's identity."""
    rng = np.random.default_rng([spec.seed, *clip.key])
    samples = synthesize_pcm16(
        clip.machine,
        clip.group,
        clip.condition,
        clip.kind,
        rng,
        spec.samples_per_clip,
        spec.sample_rate,
        spec.anomaly_strength,
    )
    if spec.far_noise_db is None:
        return samples
    return two_microphones(samples, rng, spec.sample_rate, spec.far_noise_db)


# --- writing ------------------------------------------------------------------


def _check_no_foreign_files(root: Path, clips: list[PlannedClip]) -> None:
    """Refuse to add to a folder holding clips this spec would not write: the tree would mix."""
    planned: dict[Path, set[str]] = {}
    for clip in clips:
        planned.setdefault(root / clip.relative_path.parent, set()).add(clip.name)
    for folder, names in planned.items():
        foreign = (
            [p.name for p in list_audio(folder) if p.name not in names] if folder.is_dir() else []
        )
        if foreign:
            raise DataError(
                f"{folder} already holds {len(foreign)} clip(s) this data set would not write "
                f"(e.g. {foreign[0]}).",
                "Write the synthetic data set to an empty folder, or delete the old one first.",
            )


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(tmp, samples, sample_rate, subtype="PCM_16", format="WAV")


def spec_json(spec: SynthSpec) -> str:
    """The spec as the marker file at a synthetic root holds it."""
    return json.dumps(dataclasses.asdict(spec), sort_keys=True)


def write_dataset(
    root: Path | str, spec: SynthSpec, progress: Progress | None = None
) -> SynthSummary:
    """Write the clips and eval ground truth ``spec`` describes under ``root``.

    Same spec, same bytes: every clip's randomness derives from the seed and
    the clip's identity, so rewriting a tree with the same spec changes nothing.
    """
    root = Path(root)
    progress = progress or no_progress
    clips = plan_clips(spec)
    _check_no_foreign_files(root, clips)
    task = f"Writing synthetic DCASE {spec.year} clips"
    progress(task, 0, len(clips))
    for done, clip in enumerate(clips, start=1):
        _write_wav(root / clip.relative_path, _clip_samples(spec, clip), spec.sample_rate)
        progress(task, done, len(clips))
    ground_truth = write_ground_truth(root, spec.year, clips)
    write_text_atomic(root / SYNTHETIC_MARKER, spec_json(spec))
    counts = Counter((c.machine, c.subset, c.split, c.group) for c in clips)
    return SynthSummary(root=root, counts=dict(counts), ground_truth=tuple(ground_truth))

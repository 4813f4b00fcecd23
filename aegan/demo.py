"""The whole pipeline on a small synthetic data set, on the CPU, in a few minutes.

``run_demo`` writes a DCASE 2022-format fan data set with ``aegan.synth.dataset``,
measures what an untrained model of the demo's size scores on it, trains that
model (``aegan.training.loop``, the 2022 fan recipe at a smaller size and with fewer
epochs), tests it (``aegan.results.assess``) and returns where everything is. The
comparison with the untrained model shows that the figure comes from
learning, not from the data alone.

The synthetic set has as many target-domain as source-domain training clips
(DCASE 2022 has 10 against 990): with a few epochs on a CPU, the demo model
could not learn the target domain from two clips per section.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from aegan import paths
from aegan.bundles.provenance import Provenance
from aegan.calibration.calibrate import calibrate
from aegan.config import schema as config
from aegan.dcase.clips import SYNTHETIC_MARKER
from aegan.dcase.facts import short_year
from aegan.detector.detector import Detector
from aegan.model.nets import Discriminator, Generator
from aegan.progress import Progress, no_progress
from aegan.results.assess import Assessment, assess
from aegan.synth.dataset import SynthSpec, spec_json, write_dataset
from aegan.training.job import TrainCallbacks, TrainJob, TrainResult, load_inputs
from aegan.training.loop import train

MODEL_NAME = "demo-fan22"
DEMO_SPEC = SynthSpec(
    year=2022, machines=("fan",), seconds=4.0, train_source=12, train_target=12,
    test_normal=5, test_anomaly=5, subsets=("dev",), seed=0,
)  # fmt: skip
DEMO_OVERRIDES = (
    "train_set=dev", "net.isize=64", "feat.n_mels=64", "feat.segment_frames=64",
    "net.ndf=16", "net.ngf=16", "net.nz=64", "train.batch_size=128", "train.epochs=8",
    "train.select=last", "detect.score=G_x_2_sum",
)  # fmt: skip
"""The 2022 fan recipe at a size a CPU trains in minutes; the score is fixed beforehand."""
DEMO_YEAR = DEMO_SPEC.year


def demo_spec(year: int = DEMO_YEAR) -> SynthSpec:
    """The demo's synthetic fan data set in the layout of ``year`` (canonical; 2024: first-shot)."""
    return dataclasses.replace(DEMO_SPEC, year=year)


def model_name(year: int = DEMO_YEAR) -> str:
    """``demo-fan22``, or the edition's own name (``demo-fan24``)."""
    return f"demo-fan{short_year(year)}"


def data_folder(folder: Path, year: int = DEMO_YEAR) -> Path:
    """Where the demo writes its data set: ``data`` (2022) or ``data24``, one tree per edition."""
    return folder / ("data" if year == DEMO_YEAR else f"data{short_year(year)}")


@dataclass
class DemoResult:
    data_root: Path
    untrained: Assessment
    training: TrainResult
    trained: Assessment

    @staticmethod
    def figure(which: Assessment) -> float:
        """The official (hmean) dev figure of the model's chosen score."""
        assert which.evaluation is not None  # the dev test set is labelled
        return which.evaluation.scores[which.chosen].official


def demo_config(year: int = DEMO_YEAR) -> config.Config:
    return config.load_config(year, "fan", overrides=DEMO_OVERRIDES)


def ensure_dataset(root: Path, progress: Progress = no_progress, year: int = DEMO_YEAR) -> Path:
    """Write the synthetic data set once; a later demo reuses it (and its feature cache)."""
    spec = demo_spec(year)
    marker = root / SYNTHETIC_MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8") == spec_json(spec):
        return root
    write_dataset(root, spec, progress)
    return root


def untrained_assessment(cfg: config.Config, root: Path, progress: Progress) -> Assessment:
    """What the demo's architecture scores before training (weights as initialised)."""
    inputs = load_inputs(cfg, root, progress, with_test=False)
    torch.manual_seed(cfg.train.seed)
    detector = calibrate(
        cfg, Generator(cfg.net), Discriminator(cfg.net), inputs.train_sets,
        provenance=Provenance.new("untrained"), name=f"{model_name(cfg.year)}-untrained",
        progress=progress,
    )  # fmt: skip
    out = paths.results_dir() / f"{model_name(cfg.year)}-untrained" / "dev"
    return assess(detector, root, "dev", out_dir=out, progress=progress)


def run_demo(
    folder: Path, callbacks: TrainCallbacks | None = None, year: int = DEMO_YEAR
) -> DemoResult:
    """Data, an untrained baseline, training, testing; the model is saved as ``demo-fan22``
    (``demo-fan24`` for ``year`` 2024: the same demo on a first-shot data set)."""
    callbacks = callbacks or TrainCallbacks()
    root = ensure_dataset(data_folder(folder, year), callbacks.progress, year)
    cfg = demo_config(year)
    untrained = untrained_assessment(cfg, root, callbacks.progress)
    job = TrainJob(cfg, root, model_name(year), force=True)
    training = train(job, [torch.device("cpu")], callbacks)
    assert training is not None  # a single process is always rank 0
    trained = assess(Detector.load(training.bundle), root, "dev", progress=callbacks.progress)
    return DemoResult(root, untrained, training, trained)

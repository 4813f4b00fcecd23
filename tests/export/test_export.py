"""`aegan export`: the ONNX graph and its sidecar reproduce PyTorch's scores without PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import typer

from aegan.cli.export import export
from aegan.dcase.clips import discover
from aegan.detector.detector import Detector
from aegan.errors import AeganError, UsageError
from aegan.export import onnx_export as export_module
from aegan.export.onnx_export import export_onnx, sidecar_path
from aegan.features.audio import read_audio
from aegan.score_names import SCORE_NAMES
from tests.extras import require_modules

PARITY_RTOL = 1e-4
"""The parity bound: onnxruntime and PyTorch run the same float32 graph with other kernels."""


@pytest.fixture(scope="module")
def exported(small_bundle, tmp_path_factory):
    """The small bundle exported once for the module (the exporter takes seconds)."""
    require_modules("onnx", "onnxscript", "onnxruntime", extra="export")
    detector = Detector.load(small_bundle)
    return detector, export_onnx(detector, tmp_path_factory.mktemp("export") / "fan.onnx")


@pytest.fixture(scope="module")
def test_waves(synth22):
    """Real-sounding normal and anomalous synthetic clips."""
    return [read_audio(c.path, 16000) for c in discover(synth22, 2022, "fan", "dev", "test")]


def _scorer(files):
    from aegan.export.onnx_scorer import OnnxScorer

    return OnnxScorer(files.onnx)


def test_every_score_matches_pytorch_on_synthetic_clips(exported, test_waves):
    detector, files = exported
    scorer = _scorer(files)
    spectrograms = detector.log_mel(test_waves)
    expected = detector.score_spectrograms(spectrograms)
    scores = scorer.all_scores(spectrograms)
    assert set(scores) == set(SCORE_NAMES)
    for name, values in scores.items():
        np.testing.assert_allclose(values, expected.column(name), rtol=PARITY_RTOL, err_msg=name)


def test_clips_of_another_length_score_as_in_pytorch(exported, test_waves):
    """Sum-pooled scores are relative to the reference clip in both runtimes, as the
    threshold is: a shorter clip must not look more normal in ONNX only."""
    detector, files = exported
    frames = detector.cfg.feat.segment_frames
    full = detector.log_mel(test_waves[:4])
    shorter = [s[:, : frames + (s.shape[1] - frames) // 2] for s in full]  # half the segments
    assert all(s.shape[1] < f.shape[1] for s, f in zip(shorter, full, strict=True))
    expected = detector.score_spectrograms(shorter)
    scores = _scorer(files).all_scores(shorter)
    for name, values in scores.items():
        np.testing.assert_allclose(values, expected.column(name), rtol=PARITY_RTOL, err_msg=name)


def test_waveforms_get_the_chosen_score_and_decision_of_pytorch(exported, test_waves):
    detector, files = exported
    scorer = _scorer(files)
    test_waves = test_waves[::3]  # normal and anomalous clips of every section
    expected = detector.score_spectrograms(detector.log_mel(test_waves)).column(detector.score_name)
    values = scorer.score_waveforms(test_waves)
    np.testing.assert_allclose(values, expected, rtol=PARITY_RTOL)
    assert scorer.score_name == detector.score_name
    assert scorer.threshold == detector.threshold()
    near = np.abs(expected - detector.threshold()) <= PARITY_RTOL * np.abs(expected)
    assert (scorer.decide(values) == detector.decide(expected))[~near].all()


@pytest.mark.parametrize("batch", [1, 5])
def test_the_batch_axis_is_dynamic(exported, batch):
    _, files = exported
    scorer = _scorer(files)
    n_mels, frames = scorer.arrays["mel_basis"].shape[0], scorer.meta["segment_frames"]
    segments = np.zeros((batch, 1, n_mels, frames), np.float32)
    distances, embedding = scorer.session.run(None, {"segments": segments})
    assert distances.shape == (batch, 5) and embedding.shape[0] == batch


def test_the_scorer_runs_where_torch_cannot_be_imported(exported, test_waves, tmp_path):
    detector, files = exported
    spectrogram = detector.log_mel(test_waves[:1])[0]
    np.save(tmp_path / "spec.npy", spectrogram)
    program = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from aegan.export.onnx_scorer import OnnxScorer\n"
        f"scorer = OnnxScorer({str(files.onnx)!r})\n"
        f"print(scorer.score_spectrograms([np.load({str(tmp_path / 'spec.npy')!r})])[0])\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout
    expected = detector.score_spectrograms([spectrogram]).column(detector.score_name)[0]
    assert float(output) == pytest.approx(expected, rel=PARITY_RTOL)


def test_existing_files_and_other_suffixes_are_refused(exported, tmp_path):
    detector, files = exported
    with pytest.raises(UsageError, match="exists already"):
        export_onnx(detector, files.onnx)
    with pytest.raises(UsageError, match=r"must end in \.onnx"):
        export_onnx(detector, tmp_path / "model.bin")
    assert not (tmp_path / "model.bin").exists()


def test_a_missing_extra_says_how_to_install_it(small_bundle, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(AeganError, match="onnxscript") as caught:
        export_onnx(Detector.load(small_bundle), tmp_path / "fan.onnx")
    assert "aegan[export]" in caught.value.hint
    assert list(tmp_path.iterdir()) == []


def test_export_command_writes_both_files_and_reports_them(
    exported, installed_bundle, runner, monkeypatch, tmp_path
):
    _, files = exported
    monkeypatch.setattr(export_module, "onnx_graph", lambda *_: files.onnx.read_bytes())
    app = typer.Typer()
    app.command()(export)
    out = tmp_path / "deploy" / "fan.onnx"
    result = runner.invoke(app, ["fan-small", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["onnx"] == str(out) and report["sidecar"] == str(sidecar_path(out))
    assert out.read_bytes() == files.onnx.read_bytes() and sidecar_path(out).is_file()
    again = runner.invoke(app, ["fan-small", "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output


def test_export_silences_torch_leafspec_deprecation_and_nothing_else():
    import warnings

    from torch.utils import _pytree

    from aegan.export.onnx_export import _quiet_exporter

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _pytree.LeafSpec()  # torch's own deprecation, as its exporter triggers it
        with _quiet_exporter():
            _pytree.LeafSpec()
            warnings.warn("another FutureWarning", FutureWarning, stacklevel=1)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2 and "LeafSpec" in messages[0]
    assert messages[1] == "another FutureWarning"

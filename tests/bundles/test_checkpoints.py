import pytest
import torch

from aegan.bundles.checkpoints import networks_from_checkpoint, read_checkpoint
from aegan.calibration.calibrate import import_checkpoint
from aegan.config import schema as config
from aegan.detector.detector import Detector
from aegan.errors import ModelError
from aegan.model.nets import Discriminator, Generator
from tests.conftest import SMALL_NET


def _original_checkpoint(path, cfg, figure_key="best_hmean"):
    torch.manual_seed(3)
    generator, discriminator = Generator(cfg.net), Discriminator(cfg.net)
    torch.save(
        {"netG": generator.state_dict(), "netD": discriminator.state_dict(), figure_key: 0.7}, path
    )
    return generator


def test_original_checkpoint_imports_into_a_calibrated_bundle(synth22, tmp_path):
    cfg = config.load_config(22, "fan", overrides=[*SMALL_NET, "train_set=dev"])
    pth = tmp_path / "fan.pth"
    generator = _original_checkpoint(pth, cfg)
    detector = import_checkpoint(pth, cfg, synth22, "fan-imported")
    assert detector.provenance.source == "imported"
    assert detector.provenance.recorded_figure == 0.7
    assert len(detector.provenance.checkpoint_sha256) == 64
    loaded = Detector.load("fan-imported")
    for a, b in zip(
        generator.state_dict().values(), loaded.generator.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert len(loaded.train_embeddings) == 3 * (6 + 2)  # every dev training clip


def test_checkpoint_of_another_architecture_is_a_clear_error(tmp_path):
    ln = config.load_config(22, "fan", overrides=SMALL_NET)
    bn = config.load_config(22, "gearbox", overrides=SMALL_NET)  # generator norm bn
    pth = tmp_path / "gearbox.pth"
    _original_checkpoint(pth, bn)
    with pytest.raises(ModelError, match="generator does not fit the fan .DCASE 2022. network"):
        networks_from_checkpoint(pth, ln)


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    html = tmp_path / "page.pth"
    html.write_text("<html>Seafile login</html>")
    with pytest.raises(ModelError, match="not a readable PyTorch checkpoint"):
        read_checkpoint(html)
    other = tmp_path / "other.pth"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ModelError, match="no 'netG' and 'netD'"):
        read_checkpoint(other)


def test_checkpoints_never_unpickle_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    evil = tmp_path / "evil.pth"
    torch.save({"netG": {}, "netD": {}, "x": Payload()}, evil)
    with pytest.raises(ModelError, match="not a readable PyTorch checkpoint"):
        read_checkpoint(evil)


def test_a_refused_pickle_says_why_and_never_suggests_unsafe_loading(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    evil = tmp_path / "evil.pth"
    torch.save({"netG": {}, "netD": {}, "x": Payload()}, evil)
    with pytest.raises(ModelError) as caught:
        read_checkpoint(evil)
    text = caught.value.message + caught.value.hint
    assert "refuses to unpickle" in text and "arbitrary code" in text
    assert "weights_only" not in text


def test_a_checkpoint_with_non_finite_weights_is_refused(tmp_path):
    cfg = config.load_config(22, "fan", overrides=SMALL_NET)
    generator, discriminator = Generator(cfg.net), Discriminator(cfg.net)
    state = generator.state_dict()
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first][...] = float("nan")
    pth = tmp_path / "nan.pth"
    torch.save({"netG": state, "netD": discriminator.state_dict()}, pth)
    with pytest.raises(ModelError, match=f"non-finite weights .* generator's {first}"):
        networks_from_checkpoint(pth, cfg)

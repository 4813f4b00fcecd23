"""The library owns the whole path: a Python user trains and loads without the CLI.

A service or a cluster worker calls these, not the command line: the
``device`` setting reaches ``Detector.load`` and training, and a run on an own
folder is set up (config, name, data root) by ``own_job``.
"""

from __future__ import annotations

import pytest
import torch

from aegan.config import settings as user_settings
from aegan.detector.detector import Detector
from aegan.errors import UsageError
from aegan.model.devices import resolve_devices
from aegan.synth.folder import OwnSpec, write_own_folder
from aegan.training.job import own_job
from aegan.training.loop import train
from tests.conftest import SMALL_NET

SETTINGS = [*SMALL_NET, "train.batch_size=32", "feat.segment_hop=4", "train.epochs=1"]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_detector_load_honours_the_device_setting(installed_bundle) -> None:
    user_settings.save_setting("device", "cpu")
    assert Detector.load("fan-small").device == torch.device("cpu")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the refusal below needs one without")
    user_settings.save_setting("device", "0")  # a GPU, on a machine with none
    with pytest.raises(UsageError, match=r"device setting '0' asks for a GPU"):
        Detector.load("fan-small")
    assert Detector.load("fan-small", device="cpu").device == torch.device("cpu")


def test_training_devices_default_to_the_device_setting() -> None:
    user_settings.save_setting("device", "cpu")
    assert resolve_devices() == [torch.device("cpu")]
    if not torch.cuda.is_available():
        user_settings.save_setting("device", "0,1")
        with pytest.raises(UsageError, match="asks for a GPU"):
            resolve_devices()


def test_own_folder_trains_and_loads_in_a_few_calls(tmp_path) -> None:
    folder = tmp_path / "line3"
    write_own_folder(folder, OwnSpec(seconds=2.0, train=8, test_normal=0, test_anomaly=0))
    user_settings.save_setting("device", "cpu")
    job = own_job(folder, name="line3", overrides=SETTINGS)
    assert (job.own is not None, job.name, job.cfg.train.select) == (True, "line3", "last")
    result = train(job)  # the device setting, no devices given
    detector = Detector.load(result.name)
    assert detector.provenance.data == str(folder.resolve())
    assert detector.provenance.source == "trained" and detector.provenance.epochs == 1
    assert detector.score(next((folder / "train").rglob("*.wav"))) > 0


def test_own_job_names_a_new_run_after_its_folder(tmp_path) -> None:
    folder = tmp_path / "pump7"
    write_own_folder(folder, OwnSpec(seconds=2.0, train=6, test_normal=0, test_anomaly=0))
    job = own_job(folder, overrides=SETTINGS)
    assert job.name.startswith("pump7-") and job.test_set == "pump7/test"

"""The DCASE facts file: every edition complete, and every download URL from the hub settings."""

from __future__ import annotations

import pytest

from aegan.config.settings import HubSettings
from aegan.dcase.facts import MACHINES, YEARS, MachineType, edition
from aegan.dcase.ground_truth import ground_truth_files
from aegan.errors import UsageError
from aegan.hub.archives import dcase_archives
from aegan.hub.zenodo import ground_truth_sources, record_page


@pytest.mark.parametrize("year", YEARS)
def test_every_edition_names_its_archives_and_ground_truth(year: int) -> None:
    facts = edition(year)
    names = [a.name for m in facts.machines for a in dcase_archives(year, m, "all")]
    per_subset = {"dev": 1, "eval": sum(a.subset == "eval" for a in facts.archives)}
    expected = sum(per_subset[s] for m in facts.machines for s in facts.subsets_of(m))
    assert len(names) == len(set(names)) == expected
    assert {a.subset for a in facts.archives} == {"dev", "eval"}
    for machine in facts.machines:
        files = ground_truth_files(year, machine)
        if facts.ground_truth is None:  # an edition whose eval test set is not published
            assert files == [] and per_subset["eval"] == 1
        elif facts.ground_truth.format == "per_section":
            assert files and all(machine in f for f in files)
        else:
            assert files == [facts.ground_truth.files["list"]]


@pytest.mark.parametrize("year", YEARS)
def test_a_mirror_replaces_every_download_host(year: int) -> None:
    mirror = HubSettings(
        zenodo_url="http://mirror.test/zenodo", github_raw_url="http://mirror.test/raw"
    )
    for machine in MACHINES[year]:
        urls = ground_truth_sources(year, machine, mirror).values()
        truth = edition(year).ground_truth
        assert (bool(urls) or truth is None or not truth.published) and all(
            url.startswith("http://mirror.test/") for url in urls
        )
        for archive in dcase_archives(year, machine, "all"):
            assert record_page(mirror, archive.record).startswith("http://mirror.test/zenodo/")


def test_machine_types_are_checked_where_they_are_made() -> None:
    assert MachineType(2022, "ToyCar").short_year == "22"
    with pytest.raises(UsageError, match="not a DCASE 2022 machine type"):
        MachineType(2022, "toycar")

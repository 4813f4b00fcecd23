"""Model names: the published AEGAN-AD models and every bundle trained or imported here.

A model is referred to by name (``fan22``, ``ToyCar20``, a local name given at
training time) or by the path of a bundle file. A name matches its bundle
exactly first, then in any letter case; two bundles whose names differ only in
case are refused as ambiguous rather than one picked. Bundles live
in the models folder of the user cache; a published model becomes a bundle
once its checkpoint is fetched and calibrated (``aegan fetch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from shlex import quote

from aegan import paths
from aegan.bundles.header import BUNDLE_SUFFIX, LocalModel, describe_bundle, require_file
from aegan.config.recipes import PublishedModel, published_models
from aegan.dcase.facts import MACHINES, short_year
from aegan.errors import ModelError, UsageError, did_you_mean

CHECKPOINT_SUFFIX = ".pth"


PUBLISHED: tuple[PublishedModel, ...] = published_models()
"""The published models (``aegan/config/recipes.yaml``)."""


def published(name: str) -> PublishedModel | None:
    for model in PUBLISHED:
        if model.name.lower() == name.lower():
            return model
    return None


def published_for(year: int, machine: str) -> PublishedModel | None:
    for model in PUBLISHED:
        if (model.year, model.machine) == (year, machine):
            return model
    return None


def require_published(name: str) -> PublishedModel:
    """The published model of a name (any letter case); a wrong name lists the close ones."""
    model = published(name)
    if model is not None:
        return model
    hint = _did_you_mean(name, [m.name for m in PUBLISHED])
    machines = {m.lower(): m for year in MACHINES.values() for m in year}
    if name.lower() in machines:
        machine = machines[name.lower()]
        years = [y for y, names in MACHINES.items() if machine in names]
        given = (
            "22` (or --year 20)"
            if {2020, 2022} & set(years)
            else f"{short_year(years[-1])}`"
            + (f" (or --year {short_year(years[0])})" if len(years) > 1 else "")
        )
        hint += (
            f" {machine} is a machine type: to download its data, run "
            f"`aegan fetch --data {machine} --year {given}."
        )
    raise UsageError(f"{name!r} is not a published model.", hint)


def checkpoint_path(model: PublishedModel) -> Path:
    """Where the fetched original checkpoint of a published model is kept."""
    return paths.checkpoints_dir() / f"{model.name}{CHECKPOINT_SUFFIX}"


def bundle_path(name: str) -> Path:
    """Where the bundle of a model name lives (published names use their official spelling)."""
    model = published(name)
    return paths.models_dir() / f"{model.name if model else name}{BUNDLE_SUFFIX}"


def local_names() -> list[str]:
    folder = paths.models_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(BUNDLE_SUFFIX) for p in folder.glob(f"*{BUNDLE_SUFFIX}"))


def local_path(name: str) -> Path:
    """The bundle file of a local name exactly as spelled on disk."""
    return paths.models_dir() / f"{name}{BUNDLE_SUFFIX}"


def matching_local(name: str, names: list[str] | None = None) -> str | None:
    """The local bundle a name means: the exact spelling first, else the one that matches in
    any letter case. Two that differ only in case are ambiguous: a UsageError names both."""
    names = local_names() if names is None else names
    if name in names:
        return name
    matches = [local for local in names if local.lower() == name.lower()]
    if len(matches) > 1:
        files = " and ".join(str(local_path(m)) for m in matches)
        raise UsageError(
            f"Model name {name!r} is ambiguous: {files} differ only in letter case.",
            f"Name one as spelled ({', '.join(matches)}), or rename or delete the other.",
        )
    return matches[0] if matches else None


def _scan_local() -> tuple[list[LocalModel], list[Path]]:
    """The readable bundles of the models folder, and the files there that are not.

    One damaged or foreign file must not break every command that lists models:
    it is skipped, and named by ``model_listing`` for a note.
    """
    readable, unreadable = [], []
    for name in local_names():
        path = local_path(name)
        model = describe_bundle(path)
        if model is None:
            unreadable.append(path)
        else:
            readable.append(model)
    return readable, unreadable


def local_models() -> list[LocalModel]:
    return _scan_local()[0]


def unreadable_note(path: Path) -> str:
    """What a listing says about a skipped file."""
    return (
        f"Skipped {path}: it is not a readable aegan model bundle "
        f"(`aegan score --model {quote(str(path))} FILE` says why); delete it or make it again."
    )


def default_model(year: int, machine: str) -> str:
    """The model ``aegan test`` uses when none is named: the newest local one of this machine."""
    mine = [m for m in local_models() if (m.year, m.machine) == (year, machine)]
    if mine:
        return max(mine, key=lambda m: m.modified).name
    known = published_for(year, machine)
    hint = f"`aegan train {machine} --year {short_year(year)}`"
    if known:
        hint += f" or `aegan fetch {known.name}`"
    raise ModelError(f"No model of {machine} (DCASE {year}) is available.", f"Get one with {hint}.")


def _looks_like_path(model: str | Path) -> bool:
    text = str(model)
    return isinstance(model, Path) or "/" in text or "\\" in text or text.endswith(BUNDLE_SUFFIX)


def resolve_bundle(model: str | Path) -> tuple[Path, str]:
    """(bundle path, model name) of a name or path; a clear error says how to get it."""
    if _looks_like_path(model):
        path = Path(model).expanduser()
        require_file(path, "Check the path given to --model.")
        return path, path.name.removesuffix(BUNDLE_SUFFIX)
    name = str(model)
    local = matching_local(name)
    if local is not None:
        return local_path(local), local
    known = published(name)
    if known is not None:
        raise ModelError(
            f"The published model {known.name} is not fetched yet.",
            f"Run `aegan fetch {known.name}` (it needs the {known.machine} training data to calibrate).",
        )
    raise UsageError(
        f"Unknown model {name!r}.", _did_you_mean(name, [m.name for m in PUBLISHED] + local_names())
    )


def _did_you_mean(name: str, candidates: list[str]) -> str:
    return did_you_mean(
        name, candidates, otherwise="See `aegan models` for the available models.", cutoff=0.5
    )


# ---------------------------------------------------------------- the overview


@dataclass(frozen=True)
class ModelEntry:
    """One row of ``aegan models``: a published model, a local bundle, or both.

    ``state`` is "ready" (a bundle to use), "checkpoint only" (fetched, not yet
    calibrated: the training data was missing) or "not fetched".
    """

    name: str
    year: int
    machine: str
    score: str
    published: PublishedModel | None
    source: str  # published, trained or imported
    state: str
    path: Path | None
    size: int | None
    data: str | None = None  # an own-data model's training folder


def _bundle_entry(bundle: LocalModel, model: PublishedModel | None) -> ModelEntry:
    source = "published" if model is not None and bundle.source != "trained" else bundle.source
    return ModelEntry(
        name=bundle.name,
        year=bundle.year,
        machine=bundle.machine,
        score=bundle.score,
        published=model,
        source=source,
        state="ready",
        path=bundle.path,
        size=bundle.size,
        data=bundle.data,
    )


def _unfetched_entry(model: PublishedModel) -> ModelEntry:
    checkpoint = checkpoint_path(model)
    fetched = checkpoint.is_file()
    return ModelEntry(
        name=model.name,
        year=model.year,
        machine=model.machine,
        score=model.score,
        published=model,
        source="published",
        state="checkpoint only" if fetched else "not fetched",
        path=checkpoint if fetched else None,
        size=checkpoint.stat().st_size if fetched else None,
    )


def model_listing() -> tuple[list[ModelEntry], list[Path]]:
    """Every published model, then every other local bundle, with its state on disk; and
    the files of the models folder that are not readable bundles. One scan of the folder."""
    readable, unreadable = _scan_local()
    local = {m.name: m for m in readable}
    entries = []
    for model in PUBLISHED:
        spelling = model.name if model.name in local else _case_match(model.name, local)
        bundle = local.pop(spelling, None) if spelling else None
        entries.append(_unfetched_entry(model) if bundle is None else _bundle_entry(bundle, model))
    entries.extend(_bundle_entry(bundle, None) for bundle in local.values())
    return entries, unreadable


def _case_match(name: str, local: dict[str, LocalModel]) -> str | None:
    """The one local name equal to ``name`` in another letter case, or None (none, or several)."""
    matches = [other for other in local if other.lower() == name.lower()]
    return matches[0] if len(matches) == 1 else None

"""Where a model came from: one typed record, stored as JSON in its bundle's metadata.

Training, checkpoint import and the demo each fill the fields that apply to
them; readers (``aegan models``, ``aegan test``, the results files) use the
fields instead of looking up keys by string. Bundles of older versions,
whose provenance is a plain JSON object, read into the same record.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from typing import Any, Literal

Source = Literal["trained", "imported", "untrained", "unknown"]


def now_iso() -> str:
    """This moment in UTC, as ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RecordedFigure:
    """A figure stored with a model: its name (hmean, average), test subset and value."""

    name: str
    subset: str  # "dev", "own", ...
    value: float | None


@dataclass(frozen=True)
class Provenance:
    """How a model was made; fields that do not apply to its source stay None."""

    source: Source = "unknown"
    created: str | None = None  # ISO 8601, UTC
    aegan_version: str | None = None
    # trained
    run: str | None = None  # the run folder
    epoch: int | None = None  # the epoch kept
    epochs: int | None = None
    selection: str | None = None  # "paper" or "last"
    selection_uses_test_labels: bool | None = None
    selection_note: str | None = None
    figure: RecordedFigure | None = None
    recipe: str | None = None
    seed: int | None = None
    processes: int | None = None
    data: str | None = None  # an own data folder trained on
    # imported from an original checkpoint
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    recorded_figure: float | None = None
    train_set: str | None = None
    published_model: str | None = None
    checkpoint_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know

    @classmethod
    def new(cls, source: Source, **fields: Any) -> Provenance:
        """A record made now, by this version of aegan."""
        return cls(source=source, created=now_iso(), aegan_version=version("aegan"), **fields)

    @property
    def chosen_on_test_labels(self) -> bool:
        """Epoch and score were picked by a labelled test set (the paper's protocol)."""
        return self.selection == "paper"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: set fields only, unknown keys kept as they were read."""
        values = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "extra" and getattr(self, f.name) is not None
        }
        if self.figure is not None:
            values["figure"] = dataclasses.asdict(self.figure)
        return {**values, **self.extra}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Provenance:
        """A record from a bundle's JSON; keys this version does not know go to ``extra``."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        fields = {k: v for k, v in values.items() if k in known}
        figure = fields.get("figure")
        if isinstance(figure, dict):
            fields["figure"] = RecordedFigure(
                str(figure.get("name")), str(figure.get("subset")), figure.get("value")
            )
        return cls(**fields, extra={k: v for k, v in values.items() if k not in known})

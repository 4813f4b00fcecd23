"""The command line's options of ``aegan watch`` as source specs (or a plant file's)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aegan.errors import UsageError
from aegan.monitor.alerts import AlertRule
from aegan.monitor.plant import load_plant
from aegan.monitor.spec import PcmFormat, Sinks, SourceSpec, default_name


@dataclass(frozen=True)
class WatchOptions:
    """What ``aegan watch`` was given."""

    sources: list[str]
    devices: list[str]
    model: str | None
    config: Path | None
    hop: float | None
    alert: str
    clear: int | None
    from_start: bool
    settle: float
    poll: bool
    max_backlog: float | None
    heartbeat: float
    events: Path | None
    out: Path | None
    scores: bool
    snippets: bool
    snippets_max_mb: float
    webhook: str | None
    encoding: str | None
    rate: int
    channels: int


def specs_from_options(opts: WatchOptions) -> tuple[list[SourceSpec], float]:
    """The sources to watch and the heartbeat interval; a plant file or the command line."""
    if opts.config is not None:
        if opts.sources or opts.devices:
            raise UsageError("Give sources on the command line or in --config, not both.")
        plant = load_plant(opts.config)
        return plant.sources, opts.heartbeat if plant.heartbeat is None else plant.heartbeat
    if not opts.sources and not opts.devices:
        raise UsageError(
            "There is nothing to watch.",
            "Give a folder, - for standard input, --device NAME or --config plant.yaml.",
        )
    if opts.model is None:
        raise UsageError("Give the model to score with: --model NAME (see `aegan models`).")
    rule = AlertRule.parse(opts.alert, opts.clear)
    pcm = None if opts.encoding is None else PcmFormat(opts.encoding, opts.rate, opts.channels)
    taken: set[str] = set()
    specs = []
    targets = [("stream" if s == "-" else "folder", s) for s in opts.sources]
    if sum(1 for _, s in targets if s == "-") > 1:
        raise UsageError("Standard input (-) can be watched once only.")
    for kind, target in [*targets, *(("device", d) for d in opts.devices)]:
        name = default_name(kind, target, taken)
        taken.add(name)
        sinks = Sinks(
            folder=None if opts.out is None else opts.out / name, events=opts.events,
            scores=opts.scores, snippets=opts.snippets, snippets_max_mb=opts.snippets_max_mb,
            webhook=opts.webhook,
        )  # fmt: skip
        specs.append(SourceSpec(
            name=name, kind=kind, target=target, model=opts.model, hop=opts.hop, rule=rule,
            pcm=pcm if kind == "stream" else None, from_start=opts.from_start,
            settle=opts.settle, poll=opts.poll, max_backlog=opts.max_backlog, sinks=sinks,
        ))  # fmt: skip
    return specs, opts.heartbeat

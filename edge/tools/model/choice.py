"""``edge-counter model choose``: the decision, its table, and the config it writes.

The measurements are ``edge.tools.model.choose``. The rule: among the candidates whose counts
disagree with FP32's by at most the allowed share, the fastest by median inference time; the
current model stays unless that one is at least ``MIN_GAIN`` faster (a switch costs a restart,
and a few per cent is the noise of a shared CPU). Without a recording nothing is switched:
speed alone cannot show that a variant counts like FP32.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from edge.config import AppConfig, load_config
from edge.setup.configfile import ConfigFile
from edge.tools.model import choose
from edge.tools.model.choose import Counts, Recording, Timing

#: A candidate replaces the current model only if its median is at least this much faster.
MIN_GAIN = 0.05
WRITER = "edge-counter model choose"


@dataclass(frozen=True)
class ChooseOptions:
    """What ``model choose`` measures and how strictly.

    Attributes:
        recording: video of this camera for the count check (None: the configured file).
        seconds: length of the replayed stretch, in seconds of recording.
        frames: frames each candidate is timed on.
        tolerance: allowed disagreement, a share of FP32's crossings (None: the default,
            ``choose.DEFAULT_TOLERANCE`` or one crossing, whichever is larger).
        dry_run: measure and print, write nothing.
    """

    recording: Path | None = None
    seconds: float = 60.0
    frames: int = 50
    tolerance: float | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class Row:
    """One candidate's line in the table (crossings and disagreement None: not checked)."""

    model: str
    timing: Timing
    crossings: int | None
    disagreement: float | None
    verdict: str


@dataclass(frozen=True)
class Choice:
    """The outcome: the table, the model the config names now, and why.

    Attributes:
        rows: every candidate that loaded, root first.
        current: ``detector.model`` before the choice.
        chosen: the model to configure (``current`` when kept).
        reason: one sentence for a person.
        recording: the replayed stretch, None when there was none.
        allowed: the disagreement allowed, None without a recording.
        notes: candidates left out and why.
        backup: where the previous config went, None if nothing was written.
    """

    rows: tuple[Row, ...]
    current: str
    chosen: str
    reason: str
    recording: Recording | None
    allowed: float | None
    notes: tuple[str, ...] = ()
    backup: Path | None = None


def _pick(current: str, timings: dict[str, Timing], within: list[str]) -> str:
    fastest = min(within, key=lambda n: timings[n].p50_ms)
    gain_too_small = current in timings and (
        timings[fastest].p50_ms > (1 - MIN_GAIN) * timings[current].p50_ms
    )
    if current in within and gain_too_small:
        return current
    return fastest


def decide(
    current: str, root: str, timings: dict[str, Timing], counts: dict[str, Counts], limit: float
) -> tuple[str, tuple[Row, ...]]:
    """The model to configure and every candidate's row (``counts`` has one per candidate)."""
    reference = counts[root]
    share = {n: choose.disagreement(c, reference) for n, c in counts.items()}
    within = [n for n in timings if share[n] <= limit]
    chosen = _pick(current, timings, within)
    rows = []
    for name, timing in timings.items():
        if name == chosen:
            verdict = "chosen" + (" (FP32 reference)" if name == root else "")
        elif name == root:
            verdict = "FP32 reference"
        elif name in within:
            verdict = "agrees, not chosen"
        else:
            verdict = f"refused: {share[name]:.1%} > {limit:.1%}"
        total = sum(counts[name].values())
        rows.append(Row(name, timing, total, share[name], verdict))
    return chosen, tuple(rows)


def run_choice(config_path: Path, opts: ChooseOptions, models_dir: Path) -> Choice:
    """Measure the family of the configured model, decide, and write the config unless told not.

    Raises:
        ConfigError: a bad config, option or recording (naming it). SourceError, ModelError:
            the source or the configured family cannot be opened.
    """
    cfg = load_config(config_path)
    family = choose.find_family(cfg, models_dir)
    current = str(getattr(cfg.detector, "model", ""))
    recording = choose.recording_for(cfg, opts.recording, opts.seconds)
    detectors, failed = choose.open_detectors(cfg, family, models_dir)
    notes = tuple(f"{n}: left out: {why}" for n, why in (*family.skipped, *failed))
    timings = choose.time_detectors(cfg, detectors, opts.frames)
    del detectors  # their sessions are not needed for the replays
    if recording is None:
        return _timing_only(cfg, current, timings, notes)
    counts = {n: choose.count_recording(cfg, n, recording, models_dir) for n in timings}
    limit = choose.allowed(opts.tolerance, sum(counts[family.root].values()))
    chosen, rows = decide(current, family.root, timings, counts, limit)
    choice = Choice(rows, current, chosen, _reason(current, chosen, rows), recording, limit, notes)
    if chosen != current and not opts.dry_run:
        saved = ConfigFile(config_path, None).save_model(chosen, WRITER)
        return replace(choice, backup=saved.backup)
    return choice


def _timing_only(
    cfg: AppConfig, current: str, timings: dict[str, Timing], notes: tuple[str, ...]
) -> Choice:
    kind = cfg.source.type if cfg.source is not None else "none"
    rows = tuple(
        Row(n, t, None, None, "current, kept" if n == current else "not checked")
        for n, t in timings.items()
    )
    reason = (
        f"the source is a live camera ({kind}) and no --recording was given: speed alone "
        f"cannot show that a variant counts like FP32, so {current} stays. Record a minute "
        "or more of this camera with traffic crossing the lines and pass --recording FILE."
    )
    return Choice(rows, current, current, reason, None, None, notes)


def _reason(current: str, chosen: str, rows: tuple[Row, ...]) -> str:
    p50 = {r.model: r.timing.p50_ms for r in rows}
    if chosen == current:
        return f"{current} stays: no candidate that counts like FP32 is {MIN_GAIN:.0%} faster."
    was = f" ({p50[current] / p50[chosen]:.2f}x faster)" if current in p50 else ""
    return f"{chosen} replaces {current}{was} and counts like FP32 within the tolerance."


def table(choice: Choice) -> str:
    """The table a person reads: model, ms p50/p90, crossings, disagreement, verdict."""
    width = max(12, *(len(r.model) + 2 for r in choice.rows))
    head = f"{'model':<{width}}{'ms p50':>8}{'ms p90':>8}{'crossings':>11}{'disagree':>10}  verdict"
    out = [head]
    for r in choice.rows:
        crossings = "-" if r.crossings is None else str(r.crossings)
        share = "-" if r.disagreement is None else f"{r.disagreement:.1%}"
        out.append(f"{r.model:<{width}}{r.timing.p50_ms:>8.1f}{r.timing.p90_ms:>8.1f}"
                   f"{crossings:>11}{share:>10}  {r.verdict}")  # fmt: skip
    return "\n".join(out)

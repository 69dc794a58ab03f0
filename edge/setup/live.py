"""The setup page's live view: one thread runs the configured pipeline on the source and keeps
the newest picture, its tracks and the counts on the saved lines, for the page to fetch.

Nothing here is journaled or published: the frames and counts stay on the page. A recorded
file is played at its recorded speed and starts again when it ends (the counts go on); a save
rebuilds the pipeline with the new lines (the counts start again from zero).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.classes import CLASS_NAMES
from edge.config import AppConfig
from edge.errors import EdgeError
from edge.runtime.feed import EndOfFrames, Feed
from edge.runtime.pipeline import FrameResult, Pipeline
from edge.types import ImageArray

log = logging.getLogger(__name__)

#: Crossings listed on the page (the most recent ones).
RECENT_CROSSINGS = 12
#: Wait before retrying a source or model that failed (the page shows why meanwhile).
_RETRY_S = 3.0
#: JPEG quality of the picture sent to the page.
JPEG_QUALITY = 80


@dataclass(frozen=True)
class Box:
    """A track drawn on the page: ``xyxy`` in frame pixels, its class and id."""

    xyxy: tuple[float, float, float, float]
    class_name: str
    track_id: int


@dataclass(frozen=True)
class Snapshot:
    """The newest processed picture and what the pipeline saw in it.

    Attributes:
        seq: increases with every processed frame (the page fetches the JPEG of this seq).
        image: the BGR picture.
        boxes: the tracks in it.
        counts: line name -> ``{"in": n, "out": n}`` since the last save (or start).
        recent: the last crossings, newest first, as (monotonic time, ``{line, direction,
            class}``).
    """

    seq: int
    image: ImageArray
    boxes: tuple[Box, ...]
    counts: dict[str, dict[str, int]]
    recent: tuple[tuple[float, dict[str, object]], ...] = field(default_factory=tuple)

    def to_json(self, now_s: float) -> dict[str, object]:
        """What ``/api/state`` returns of it (``now_s``: monotonic time, for the ages)."""
        return {
            "seq": self.seq,
            "boxes": [
                {"xyxy": b.xyxy, "class": b.class_name, "id": b.track_id} for b in self.boxes
            ],
            "counts": self.counts,
            "recent": [{**item, "age_s": round(now_s - t, 1)} for t, item in self.recent],
        }


def _boxes(result: FrameResult) -> tuple[Box, ...]:
    t = result.tracks
    out = []
    for i in range(len(t)):
        cid = int(t.class_id[i])
        name = CLASS_NAMES[cid] if 0 <= cid < len(CLASS_NAMES) else str(cid)
        x1, y1, x2, y2 = (round(float(v), 1) for v in t.xyxy[i])
        out.append(Box((x1, y1, x2, y2), name, int(t.track_id[i])))
    return tuple(out)


@dataclass(frozen=True)
class Preview:
    """The setup page's live view: the configured detector, tracker and counter fed by the
    source, and nothing else (no outbox, no uplink: frames and counts stay on the page).

    Attributes:
        pipeline: detector, tracker and counter (``pipeline.process`` in the caller's thread).
        feed: the source's frames, read ahead (``start`` it, then ``next``; ``stop`` closes).
        size_wh: the picture's width and height in pixels.
    """

    pipeline: Pipeline
    feed: Feed
    size_wh: tuple[int, int]


#: Builds a live view from a config and the models folder (``edge.app.build_preview``).
BuildPreview = Callable[[AppConfig, Path], Preview]


class LiveView:
    """Runs the pipeline of a config on its source in a ``setup-live`` thread.

    Args:
        cfg: the config to preview (its ``[source]`` is what the page shows).
        models_dir: where model manifests and weights are.
        build: makes the preview's pipeline and feed (the runtime's ``build_preview``, handed
            down so that this package never imports the app that opens it).

    Raises:
        ConfigError, SourceError, ModelError: the first build failed (fail fast at start).
    """

    def __init__(
        self,
        cfg: AppConfig,
        models_dir: Path,
        build: BuildPreview,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self._build = build
        self._models_dir = models_dir
        self._on_failure = on_failure
        self._cfg = cfg
        self._preview: Preview | None = build(cfg, models_dir)
        self.size_wh = self._preview.feed.source.size_wh
        self._lock = threading.Lock()
        self._pending: AppConfig | None = None
        self._stop = threading.Event()
        self._snapshot: Snapshot | None = None
        self._counts: dict[str, dict[str, int]] = {}
        self._recent: deque[tuple[float, dict[str, object]]] = deque(maxlen=RECENT_CROSSINGS)
        self._reset_counts(cfg)
        self._jpeg: tuple[int, bytes] | None = None
        self.error: str | None = None
        self.died = False
        self._thread = threading.Thread(target=self._run, name="setup-live", daemon=True)

    def start(self) -> None:
        """Start the live thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the live thread and release the source."""
        self._stop.set()
        if self._thread.ident is not None:  # started (Ctrl-C can come before)
            self._thread.join(timeout=15)

    def reload(self, cfg: AppConfig) -> None:
        """Count on ``cfg``'s lines from now on (the pipeline is rebuilt, counts start at 0)."""
        with self._lock:
            self._pending = cfg

    def snapshot(self) -> Snapshot | None:
        """The newest processed picture, None before the first one."""
        with self._lock:
            return self._snapshot

    def jpeg(self) -> tuple[int, bytes] | None:
        """The newest picture as JPEG with its seq (encoded once per picture)."""
        snap = self.snapshot()
        if snap is None:
            return None
        with self._lock:
            if self._jpeg is not None and self._jpeg[0] == snap.seq:
                return self._jpeg
        ok, buf = cv2.imencode(".jpg", snap.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            return None
        encoded = (snap.seq, np.asarray(buf).tobytes())
        with self._lock:
            self._jpeg = encoded
        return encoded

    def _reset_counts(self, cfg: AppConfig) -> None:
        self._counts = {ln.name: {"in": 0, "out": 0} for ln in cfg.lines}
        self._recent.clear()

    def _run(self) -> None:
        """Thread top: an unexpected error is logged and ends the page (exit 1)."""
        try:
            self._loop()
        except Exception as err:  # the thread's top: logged, then the server is shut down
            log.exception("setup live view died")
            self.error, self.died = f"live view stopped: {err}", True
            self._on_failure()

    def _loop(self) -> None:
        """Play, and rebuild on a save, at the end of a file, or after a failure."""
        while not self._stop.is_set():
            preview, self._preview = self._preview, None
            try:
                if preview is None:
                    preview = self._build(self._cfg, self._models_dir)
                self.error = None
                self._play(preview)
            except EdgeError as err:
                self.error = str(err)
                log.warning("setup live view: %s", err)
                self._stop.wait(_RETRY_S)
            with self._lock:
                pending, self._pending = self._pending, None
            if pending is not None:
                self._cfg = pending
                with self._lock:
                    self._reset_counts(pending)

    def _play(self, preview: Preview) -> None:
        """Process frames until the file ends, a save, or stop."""
        preview.feed.start()
        try:
            while not self._stop.is_set():
                with self._lock:
                    if self._pending is not None:
                        return
                frame = preview.feed.next(0.5)
                if frame is not None:
                    self._publish(preview.pipeline.process(frame))
        except EndOfFrames:
            return  # a recorded file: play it again
        finally:
            preview.feed.stop()

    def _publish(self, result: FrameResult) -> None:
        now = time.monotonic()
        with self._lock:
            for c in result.crossings:
                self._counts.setdefault(c.line, {"in": 0, "out": 0})[c.direction] += 1
                self._recent.appendleft(
                    (now, {"line": c.line, "direction": c.direction, "class": c.class_name})
                )
            recent = tuple(self._recent)
            seq = self._snapshot.seq + 1 if self._snapshot is not None else 1
            counts = {k: dict(v) for k, v in self._counts.items()}
            self._snapshot = Snapshot(seq, result.frame.image, _boxes(result), counts, recent)

"""Shared vocabulary between stages: frozen dataclasses, arrays with checked shapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
ImageArray = npt.NDArray[np.uint8]

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class Frame:
    """One decoded image and when it was taken.

    Attributes:
        image: H×W×3 uint8, BGR as OpenCV decodes it.
        ts_s: source time in seconds (file PTS, sensor timestamp or monotonic clock).
        seq: index of the frame in its source, counting frames skipped on purpose.
        between: small gray copies of the frames the source skipped since the previous frame
            it gave out, oldest first (``capture.skipped``); they let optical flow follow boxes
            one camera frame at a time. Empty when none were skipped or kept.
    """

    image: ImageArray
    ts_s: float
    seq: int
    between: tuple[ImageArray, ...] = ()

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3:
            raise ValueError(f"Frame.image must be H×W×3, got {self.image.shape}")

    @property
    def size_wh(self) -> tuple[int, int]:
        """Frame width and height in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


def _check_rows(name: str, arr: npt.NDArray[np.generic], n: int, cols: int | None) -> None:
    shape = (n,) if cols is None else (n, cols)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")


@dataclass(frozen=True)
class Detections:
    """Detector output for one frame, structure of arrays.

    Attributes:
        xyxy: N×4 float32 boxes in frame pixels (x1, y1, x2, y2).
        confidence: N float32 scores in [0, 1].
        class_id: N int64 indices into ``edge.classes.CLASS_NAMES``.
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        _check_rows("xyxy", self.xyxy, n, 4)
        _check_rows("confidence", self.confidence, n, None)
        _check_rows("class_id", self.class_id, n, None)

    def __len__(self) -> int:
        return len(self.xyxy)

    @staticmethod
    def empty() -> Detections:
        """No detections."""
        return Detections(
            np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
        )

    def select(self, mask: npt.NDArray[np.bool_] | IntArray) -> Detections:
        """Return the subset chosen by a boolean mask or index array."""
        return Detections(self.xyxy[mask], self.confidence[mask], self.class_id[mask])


@dataclass(frozen=True)
class Tracks:
    """Confirmed tracks observed in one frame.

    Only tracks the image placed in this frame are listed (matched to a detection, or moved by
    optical flow while the detector missed them); the counter compares each track's anchor
    with its previous observation, so a gap in between is harmless.

    Attributes:
        xyxy: N×4 float32 boxes in frame pixels (the matched detection's box, or the tracker's
            estimate for a track placed by flow alone).
        confidence: N float32 detection scores; 0 for a track placed by flow alone.
        class_id: N int64 class of the matched detection in this frame (not voted), or the
            track's voted class when placed by flow alone.
        track_id: N int64 ids, unique within one tracker instance.
        ts_s: time of the frame in seconds.
        previous_xyxy: N×4 float32, for a track started in this frame the box optical flow
            traced it back to in the previous processed frame (where the object came from
            before the detector found it); NaN otherwise. None: all NaN.
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    track_id: IntArray
    ts_s: float
    previous_xyxy: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        _check_rows("xyxy", self.xyxy, n, 4)
        _check_rows("confidence", self.confidence, n, None)
        _check_rows("class_id", self.class_id, n, None)
        _check_rows("track_id", self.track_id, n, None)
        if self.previous_xyxy is not None:
            _check_rows("previous_xyxy", self.previous_xyxy, n, 4)

    def previous(self, i: int) -> FloatArray | None:
        """Track ``i``'s traced box in the previous processed frame, if it has one."""
        if self.previous_xyxy is None or not np.isfinite(self.previous_xyxy[i]).all():
            return None
        return np.asarray(self.previous_xyxy[i], np.float32)

    def __len__(self) -> int:
        return len(self.xyxy)

    def extend(self, more: Tracks) -> Tracks:
        """These tracks followed by ``more`` (same frame)."""
        if len(more) == 0:
            return self
        previous = None
        if self.previous_xyxy is not None or more.previous_xyxy is not None:
            previous = np.concatenate([self._previous_rows(), more._previous_rows()])
        return Tracks(
            np.concatenate([self.xyxy, more.xyxy]),
            np.concatenate([self.confidence, more.confidence]),
            np.concatenate([self.class_id, more.class_id]),
            np.concatenate([self.track_id, more.track_id]),
            self.ts_s,
            previous,
        )

    def _previous_rows(self) -> FloatArray:
        if self.previous_xyxy is not None:
            return self.previous_xyxy
        return np.full((len(self), 4), np.nan, np.float32)

    @staticmethod
    def empty(ts_s: float) -> Tracks:
        """No tracks at time ``ts_s``."""
        return Tracks(
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            ts_s,
        )


@dataclass(frozen=True)
class Crossing:
    """One object crossing one counting line.

    Attributes:
        line: name of the line.
        direction: ``in`` (left side to right side of A→B) or ``out``.
        class_name: class decided by vote over the track, one of ``edge.classes.CLASS_NAMES``.
        track_id: tracker id of the object.
        ts_s: source time of the crossing in seconds (the frame where it was seen across).
        confidence: mean detection score over the track.
    """

    line: str
    direction: Direction
    class_name: str
    track_id: int
    ts_s: float
    confidence: float


@dataclass(frozen=True)
class CountRecord:
    """A crossing as journaled and published: identity that survives restarts.

    ``(device_id, outbox_id, seq)`` is the idempotency key the collector upserts on.

    Attributes:
        device_id: id of the device that counted it.
        epoch: start counter of the device (increments at every start).
        seq: monotonic per outbox across restarts.
        event_utc_s: wall-clock time of the crossing, seconds since the Unix epoch (UTC).
        crossing: what was counted.
        outbox_id: random id of the journal it was written to (new when the state is wiped).
    """

    device_id: str
    epoch: int
    seq: int
    event_utc_s: float
    crossing: Crossing
    outbox_id: str = ""

"""Tracking stage helper: how far boxes moved between two frames, by sparse optical flow.

At a low detection rate (5 fps on a Raspberry Pi) a car on a dense road moves about its own
length between two detections, so a constant-velocity guess cannot tell it from the car behind,
least of all for a new track whose speed is unknown. The images can: a small grid of points
inside each box is followed with pyramidal Lucas-Kanade (``cv2.calcOpticalFlowPyrLK``), kept only
where tracking back lands where it started (forward-backward check), and the median displacement
moves the box. Grayscale, on a frame downscaled to at most ``max_side_px``: a few milliseconds
per frame on a small CPU.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import numpy.typing as npt

from edge.capture.skipped import motion_gray
from edge.types import ImageArray

F64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Side of the appearance thumbnail in pixels.
THUMB = 8
#: Points per box side: a GRID×GRID lattice over the inner part of the box.
_GRID = 4
#: The lattice spans the box minus this fraction on each side (edges are often background).
_MARGIN = 0.2
#: Lucas-Kanade window (pixels of the downscaled frame) and pyramid levels above the base:
#: 3 levels follow motions up to about 8 window widths.
_WIN = 15
_LEVELS = 3
_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)
#: A point is kept when tracking it back lands this close to where it started (pixels).
_FB_MAX_PX = 1.0
#: A box moves when at least this share of its points survive and agree.
_MIN_SHARE = 0.35
#: Points agree when within this fraction of the box size of the median displacement.
_AGREE = 0.15


class BoxFlow:
    """Displacement of boxes between the previous processed image and the current one.

    Call ``update`` with every processed frame (and the motion images of the frames skipped
    before it), then ``displace`` with boxes of the previous frame to get them in the current
    one. With skipped frames the boxes are followed one camera frame at a time (a "median flow"
    tracker): each step moves the box by the median flow of a fresh point grid, so points lost on
    the way do not matter, and a box whose flow fails at any step is reported unreliable.
    """

    def __init__(self) -> None:
        self._prev: ImageArray | None = None
        self._steps: tuple[ImageArray, ...] = ()
        self._cur: ImageArray | None = None
        self._scale = 1.0

    def reset(self) -> None:
        """Forget the images (a gap in the stream: nothing to compare with)."""
        self._prev = self._cur = None
        self._steps = ()

    def update(self, image: ImageArray, between: tuple[ImageArray, ...] = ()) -> None:
        """Take the next processed frame (H×W×3 BGR or H×W gray, uint8).

        Args:
            image: the frame.
            between: motion images (``capture.skipped.motion_gray``) of the frames skipped
                since the previous processed one, oldest first.
        """
        cur = motion_gray(image)
        self._scale = cur.shape[1] / image.shape[1]
        self._prev, self._cur = self._cur, cur
        self._steps = tuple(g for g in between if g.shape == cur.shape)

    def displace(self, xyxy: npt.NDArray[np.floating]) -> tuple[F64, BoolArray]:
        """Move boxes of the previous frame to where the image content went in the current one.

        Args:
            xyxy: N×4 boxes in the previous frame, frame pixels.

        Returns:
            The N×4 moved boxes (size unchanged) and N flags, False where the flow was not
            reliable (too few points survived or they disagree, at any step); those boxes are
            returned as given.
        """
        return self._follow(xyxy, backward=False)

    def retrace(self, xyxy: npt.NDArray[np.floating]) -> tuple[F64, BoolArray]:
        """Where boxes of the current frame were in the previous one (``displace`` run back).

        A new track learns from it where its object came from: its speed, and whether it
        crossed a line while the detector had not yet found it.
        """
        return self._follow(xyxy, backward=True)

    def _follow(self, xyxy: npt.NDArray[np.floating], backward: bool) -> tuple[F64, BoolArray]:
        boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
        ok = np.zeros(len(boxes), bool)
        if self._prev is None or self._cur is None or len(boxes) == 0:
            return boxes.copy(), ok
        chain = [self._prev, *self._steps, self._cur]
        if backward:
            chain.reverse()
        moved, ok[:] = boxes * self._scale, True
        for a, b in itertools.pairwise(chain):
            live = np.flatnonzero(ok)
            if len(live) == 0:
                break
            step, good = _step(a, b, moved[live])
            moved[live] = step
            ok[live] = good
        return np.where(ok[:, None], moved / self._scale, boxes), ok

    def describe(self, xyxy: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """Appearance of boxes in the current image: N×D descriptors (D = ``THUMB``² + 1).

        A ``THUMB``×``THUMB`` grayscale thumbnail of the inner box, zero-mean and unit-norm (the
        pattern: windows, lights, shape), plus the mean brightness / 255 (dark car vs white
        car). Cheap and bounded; compare with ``appearance_distance``.
        """
        boxes = np.asarray(xyxy, np.float64).reshape(-1, 4) * self._scale
        out = np.zeros((len(boxes), THUMB * THUMB + 1), np.float32)
        if self._cur is None:
            return out
        h, w = self._cur.shape[:2]
        for i, b in enumerate(boxes):
            x1, y1 = int(np.clip(b[0], 0, w - 2)), int(np.clip(b[1], 0, h - 2))
            x2 = int(np.clip(np.ceil(b[2]), x1 + 2, w))
            y2 = int(np.clip(np.ceil(b[3]), y1 + 2, h))
            patch = cv2.resize(
                self._cur[y1:y2, x1:x2], (THUMB, THUMB), interpolation=cv2.INTER_AREA
            )
            v = patch.astype(np.float32).ravel()
            mean = float(v.mean())
            v -= mean
            out[i, :-1] = v / max(float(np.linalg.norm(v)), 1e-3)
            out[i, -1] = mean / 255.0
        return out


def _step(prev: ImageArray, cur: ImageArray, boxes: F64) -> tuple[F64, BoolArray]:
    """Move N boxes (motion-image pixels) by the median flow of their point grids, one step.

    Points are kept where tracking them back lands where they started (forward-backward check)
    and where they agree with the median; a box moves when enough of its points do.
    """
    n = len(boxes)
    p0 = _grid_points(boxes)
    p1, good = _track(prev, cur, p0)
    shift = (p1 - p0.reshape(-1, 2)).reshape(n, _GRID * _GRID, 2)
    good = good.reshape(n, _GRID * _GRID)
    size = np.sqrt(np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1))
    moved, ok = boxes.copy(), np.zeros(n, bool)
    for i in np.flatnonzero(good.sum(axis=1) >= _MIN_SHARE * _GRID * _GRID):
        d = shift[i][good[i]]
        agree = np.hypot(*(d - np.median(d, axis=0)).T) <= _AGREE * size[i]
        if agree.sum() >= _MIN_SHARE * _GRID * _GRID:
            moved[i] = boxes[i] + np.tile(np.median(d[agree], axis=0), 2)
            ok[i] = True
    return moved, ok


def _track(
    prev: ImageArray, cur: ImageArray, p0: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float32], BoolArray]:
    """Follow points forward and back; keep those that return to their start."""
    win = (_WIN, _WIN)
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(
        prev, cur, p0, np.empty(0), winSize=win, maxLevel=_LEVELS, criteria=_CRITERIA
    )
    back, st2, _ = cv2.calcOpticalFlowPyrLK(
        cur, prev, p1, np.empty(0), winSize=win, maxLevel=_LEVELS, criteria=_CRITERIA
    )
    back = np.asarray(back, np.float32)
    st1, st2 = np.asarray(st1), np.asarray(st2)
    fb = np.hypot(*(back - p0).reshape(-1, 2).T)
    good = (st1.ravel() == 1) & (st2.ravel() == 1) & (fb <= _FB_MAX_PX)
    return np.asarray(p1, np.float32).reshape(-1, 2), np.asarray(good, np.bool_)


def appearance_distance(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> F64:
    """Pairwise distance of N×D and M×D descriptors (``BoxFlow.describe``), N×M in [0, 2].

    Half of (1 - normalised correlation of the thumbnails) plus the brightness difference: 0 for
    the same look, about 0.5 for unrelated patterns of equal brightness.
    """
    ncc = a[:, :-1].astype(np.float64) @ b[:, :-1].T.astype(np.float64)
    return np.asarray((1 - ncc) / 2 + np.abs(a[:, -1:] - b[None, :, -1]), np.float64)


def _grid_points(boxes: F64) -> npt.NDArray[np.float32]:
    """GRID×GRID points over the inner part of each of N boxes, (N·GRID², 1, 2) float32."""
    frac = _MARGIN + (1 - 2 * _MARGIN) * (np.arange(_GRID) + 0.5) / _GRID
    fx, fy = np.meshgrid(frac, frac)
    w = (boxes[:, 2] - boxes[:, 0])[:, None]
    h = (boxes[:, 3] - boxes[:, 1])[:, None]
    x = boxes[:, 0:1] + w * fx.ravel()[None, :]
    y = boxes[:, 1:2] + h * fy.ravel()[None, :]
    return np.stack([x, y], axis=-1).reshape(-1, 1, 2).astype(np.float32)

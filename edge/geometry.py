"""Geometry shared by the stages: directed segments, sides, anchors, polygons, IoU; pure numpy.

Coordinates are frame pixels, x to the right and y down. With y down, a positive cross product
means "right-hand side of A→B as seen on screen", which is the convention of the counting rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Anchor = Literal["bottom_center", "center", "top_center"]

_EPS = 1e-9


@dataclass(frozen=True)
class Segment:
    """A directed segment A→B in frame pixels.

    Attributes:
        ax: x of A.
        ay: y of A.
        bx: x of B.
        by: y of B.
    """

    ax: float
    ay: float
    bx: float
    by: float

    def __post_init__(self) -> None:
        if self.length <= 0:
            raise ValueError("segment end points must differ")

    @staticmethod
    def of(a: tuple[float, float], b: tuple[float, float]) -> Segment:
        """Build from two ``(x, y)`` points."""
        return Segment(float(a[0]), float(a[1]), float(b[0]), float(b[1]))

    @property
    def length(self) -> float:
        """Length of A→B in pixels."""
        return float(np.hypot(self.bx - self.ax, self.by - self.ay))

    def cross(self, points: F64) -> F64:
        """Cross product ``(B-A) × (p-A)`` for N×2 points (pixels²); > 0 is the right side."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        return (self.bx - self.ax) * (p[:, 1] - self.ay) - (self.by - self.ay) * (p[:, 0] - self.ax)

    def side(self, points: F64) -> npt.NDArray[np.int8]:
        """Side of N×2 points: +1 right of A→B on screen, -1 left, 0 on the line."""
        return np.sign(self.cross(points)).astype(np.int8)

    def signed_distance(self, points: F64) -> F64:
        """Perpendicular distance of N×2 points to the infinite line in pixels, signed as side."""
        return self.cross(points) / self.length

    def crossing_t(self, p0: F64, p1: F64) -> float | None:
        """Parameter t along A→B where the path p0→p1 meets the line A→B.

        Args:
            p0: start of the path, shape (2,).
            p1: end of the path, shape (2,).

        Returns:
            t with A at 0 and B at 1 (it may lie outside [0, 1]; the caller decides), or None
            when the path is parallel to the line or does not reach it.
        """
        d0, d1 = self.cross(np.stack([p0, p1]))
        if d0 == d1 or d0 * d1 > 0:
            return None
        s = d0 / (d0 - d1)  # fraction along the path where it meets the infinite line
        hit = np.asarray(p0, np.float64) + s * (np.asarray(p1, np.float64) - p0)
        ab = np.array([self.bx - self.ax, self.by - self.ay])
        return float(np.dot(hit - (self.ax, self.ay), ab) / np.dot(ab, ab))


def anchors(xyxy: npt.NDArray[np.floating], kind: Anchor = "bottom_center") -> F64:
    """Anchor points of N×4 boxes (x1, y1, x2, y2), as N×2 pixels.

    Args:
        xyxy: boxes in frame pixels.
        kind: ``bottom_center`` (where the object meets the ground), ``center`` or
            ``top_center``.
    """
    b = np.asarray(xyxy, np.float64).reshape(-1, 4)
    cx = (b[:, 0] + b[:, 2]) / 2
    if kind == "bottom_center":
        y = b[:, 3]
    elif kind == "center":
        y = (b[:, 1] + b[:, 3]) / 2
    else:
        y = b[:, 1]
    return np.stack([cx, y], axis=1)


def points_in_polygon(points: F64, polygon: F64) -> npt.NDArray[np.bool_]:
    """Even-odd test of N×2 points against an M×2 polygon, in pixels.

    Points exactly on an edge may fall either way.
    """
    p = np.asarray(points, np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, np.float64).reshape(-1, 2)
    x, y = p[:, 0:1], p[:, 1:2]
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    straddles = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at_y = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    hits = straddles & (x < x_at_y)
    return np.asarray(hits.sum(axis=1) % 2 == 1, np.bool_)


def box_area(xyxy: npt.NDArray[np.floating]) -> F64:
    """Areas of N×4 boxes in pixels² (0 for degenerate boxes)."""
    b = np.asarray(xyxy, np.float64).reshape(-1, 4)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def intersection_matrix(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> F64:
    """Pairwise intersection areas of N×4 and M×4 boxes, N×M pixels²."""
    a = np.asarray(a, np.float64).reshape(-1, 4)[:, None, :]
    b = np.asarray(b, np.float64).reshape(-1, 4)[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    return np.asarray(w * h, np.float64)


def iou_matrix(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> F64:
    """Pairwise IoU of N×4 and M×4 boxes (x1, y1, x2, y2), N×M in [0, 1]."""
    inter = intersection_matrix(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.asarray(np.where(union > _EPS, inter / np.maximum(union, _EPS), 0.0), np.float64)

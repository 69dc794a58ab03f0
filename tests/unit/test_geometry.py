"""Geometry: sides, distances, crossing parameter, anchors, polygons, IoU."""

from __future__ import annotations

import numpy as np
import pytest

from edge.geometry import Segment, anchors, iou_matrix, points_in_polygon

H = Segment.of((0, 0), (10, 0))  # horizontal, left to right: right-hand side is y > 0 (down)


@pytest.mark.parametrize(
    ("seg", "point", "side"),
    [
        (H, (5, 3), 1),
        (H, (5, -3), -1),
        (H, (5, 0), 0),
        (H, (50, 0), 0),  # on the infinite line, beyond B
        (Segment.of((0, 10), (0, 0)), (3, 5), 1),  # drawn upwards: right-hand side is x > 0
        (Segment.of((0, 10), (0, 0)), (-3, 5), -1),
        (Segment.of((0, 0), (10, 10)), (10, 0), -1),  # diagonal down-right: upper right is left
        (Segment.of((0, 0), (10, 10)), (0, 10), 1),
    ],
)
def test_side(seg: Segment, point: tuple[float, float], side: int) -> None:
    assert int(seg.side(np.array([point]))[0]) == side


def test_side_matches_the_clip_formula() -> None:
    rng = np.random.default_rng(0)
    a, b = (108.0, 230.0), (616.0, 230.0)
    pts = rng.uniform(0, 640, (50, 2))
    expected = np.sign((b[0] - a[0]) * (pts[:, 1] - a[1]) - (b[1] - a[1]) * (pts[:, 0] - a[0]))
    np.testing.assert_array_equal(Segment.of(a, b).side(pts), expected)


def test_signed_distance_is_perpendicular() -> None:
    seg = Segment.of((0, 0), (3, 4))
    np.testing.assert_allclose(seg.signed_distance(np.array([[4, -3], [-4, 3]])), [-5, 5])


@pytest.mark.parametrize(
    ("p0", "p1", "t"),
    [
        ((5, -1), (5, 1), 0.5),
        ((0, -1), (0, 1), 0.0),  # exactly through A
        ((10, -1), (10, 1), 1.0),  # exactly through B
        ((12, -1), (12, 1), 1.2),  # beyond B: the caller rejects t > 1
        ((-3, -1), (-3, 1), -0.3),
        ((0, -2), (4, 2), 0.2),  # diagonal path
        ((5, -2), (5, -1), None),  # does not reach the line
        ((1, -1), (9, -1), None),  # parallel
        ((5, 0), (5, 2), 0.5),  # starts on the line
    ],
)
def test_crossing_t(p0: tuple[float, float], p1: tuple[float, float], t: float | None) -> None:
    got = H.crossing_t(np.array(p0, float), np.array(p1, float))
    assert got == pytest.approx(t) if t is not None else got is None


def test_zero_length_segment_is_rejected() -> None:
    with pytest.raises(ValueError, match="differ"):
        Segment.of((1, 1), (1, 1))


@pytest.mark.parametrize(
    ("kind", "point"),
    [("bottom_center", (20, 60)), ("center", (20, 40)), ("top_center", (20, 20))],
)
def test_anchors(kind: str, point: tuple[float, float]) -> None:
    got = anchors(np.array([[10, 20, 30, 60]], np.float32), kind)  # type: ignore[arg-type]
    np.testing.assert_allclose(got, [point])


def test_points_in_polygon() -> None:
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    concave = np.array([[0, 0], [10, 0], [10, 10], [5, 5], [0, 10]], float)
    pts = np.array([[5, 2], [15, 5], [-1, 5], [5, 8]], float)
    np.testing.assert_array_equal(points_in_polygon(pts, square), [True, False, False, True])
    np.testing.assert_array_equal(points_in_polygon(pts, concave), [True, False, False, False])


def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[1, 1 / 3, 0], [0, 0, 0]])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)

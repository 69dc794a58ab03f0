"""The class vocabulary: names, categories, rideable classes, groups and the one class vote.

Every stage speaks of classes through this module. A detector's manifest maps its own class
ids onto ``CLASS_NAMES`` (``class_map``), so a model with another class list needs a manifest,
not code.

Groups: boxes of different groups are never one object. The detector's NMS, the tracker's
association and any id handover compare groups, never raw classes, because the model often
puts a car and a truck box (or a bicycle and a motorcycle box) on one vehicle, while a rider
(person) and their two-wheeler are two boxes that must both stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.geometry import anchors, intersection_matrix

IntArray = npt.NDArray[np.int64]

#: The classes the product counts, in the order of their ids everywhere (``class_id``).
CLASS_NAMES: tuple[str, ...] = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
CLASS_ID: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}
PERSON = CLASS_ID["person"]
#: Two-wheelers: a person box riding one of these is a rider, not a pedestrian.
RIDEABLE: frozenset[int] = frozenset({CLASS_ID["bicycle"], CLASS_ID["motorcycle"]})
VEHICLE_CLASSES: frozenset[str] = frozenset({"bicycle", "car", "motorcycle", "bus", "truck"})
#: Per class id: True for vehicles.
IS_VEHICLE: npt.NDArray[np.bool_] = np.array([n in VEHICLE_CLASSES for n in CLASS_NAMES])
#: Reporting categories, in the order reports list them.
CATEGORIES: tuple[str, ...] = ("vehicle", "pedestrian")

#: Per class id: 0 person | 1 two-wheelers | 2 four-wheelers (see the module docstring).
GROUP: IntArray = np.asarray(
    [{"person": 0, "bicycle": 1, "motorcycle": 1}.get(name, 2) for name in CLASS_NAMES], np.int64
)

#: Other spellings of our class names found in model label lists.
ALIASES: dict[str, str] = {"motorbike": "motorcycle", "pedestrian": "person"}
#: Value in a class map for a model class the product does not count.
DROPPED = -1

#: A person track is a rider when at least this many of its observations ride a two-wheeler...
RIDER_MIN_FRAMES = 2
#: ...and they are at least this share of its observations.
RIDER_MIN_SHARE = 0.5
#: A vote's weight never drops below this (a track placed by optical flow has score 0).
_MIN_WEIGHT = 1e-3


def category_of(class_name: str) -> str:
    """The reporting category of a class: ``pedestrian`` or ``vehicle``."""
    return "pedestrian" if class_name == "person" else "vehicle"


def class_map(model_classes: Sequence[str]) -> IntArray:
    """Map each model class index to our class id.

    Args:
        model_classes: the model's class names in output order (from its manifest).

    Returns:
        int64 array of ``len(model_classes)``: our class id, or ``DROPPED`` (-1) for classes
        the product does not count (a detection of those is discarded).
    """
    ids = [CLASS_ID.get(ALIASES.get(name, name), DROPPED) for name in model_classes]
    return np.asarray(ids, dtype=np.int64)


@dataclass(slots=True)
class ClassVote:
    """The class of one track, decided by a vote over its observations weighted by evidence.

    Each observation weighs its detector confidence times its box size (``sqrt(w·h)``): the
    detector tells classes apart better on a large, close box than on a small, far one, so a
    car seen close outvotes the "truck" it was called while it was small in the distance.
    Fixed size (one score per class), so per-track state stays bounded. It also keeps the
    rider evidence: how many observations showed the person riding a two-wheeler.
    """

    scores: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(len(CLASS_NAMES)))
    observations: int = 0
    riding: int = 0

    def add(
        self, class_id: int, confidence: float, riding: bool = False, size_px: float = 1.0
    ) -> None:
        """Count one observation of ``class_id`` with the detector's ``confidence``.

        Args:
            class_id: the observation's class.
            confidence: the detector's score (0 for a box placed by optical flow).
            riding: the box is a person riding a two-wheeler box in this frame.
            size_px: the box's size, ``sqrt(w·h)`` in pixels (1 when unknown).
        """
        self.scores[class_id] += max(confidence, _MIN_WEIGHT) * max(size_px, 1.0)
        self.observations += 1
        self.riding += int(riding)

    def voted(self) -> int:
        """The class id with the highest total score."""
        return int(np.argmax(self.scores))

    def group(self) -> int:
        """The group of the voted class (``GROUP``)."""
        return int(GROUP[self.voted()])

    def is_rider(self) -> bool:
        """A person riding a two-wheeler most of the time: part of that vehicle, not counted."""
        return self.voted() == PERSON and rides(self.riding, self.observations)


def rides(riding: int, observations: int) -> bool:
    """The rider rule over a track: enough observations riding, and a large enough share."""
    return riding >= RIDER_MIN_FRAMES and riding >= RIDER_MIN_SHARE * observations


def rider_mask(
    xyxy: npt.NDArray[np.floating], class_id: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Which boxes of one frame are persons riding a bicycle or motorcycle box.

    Args:
        xyxy: N×4 boxes in frame pixels.
        class_id: N class ids.

    Returns:
        N booleans, True for riding persons (``ridden`` ≥ 0).
    """
    return ridden(xyxy, class_id) >= 0


def ridden(
    xyxy: npt.NDArray[np.floating], class_id: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """For each box of one frame, the two-wheeler box its person rides, or -1.

    A person rides a two-wheeler when the bottom-centre of the person box (feet on pedals or
    foot-rests) lies inside the two-wheeler box, away from its left/right tenth, and the person
    covers at least a fifth of it; of several such two-wheelers, the one it covers most. A
    pedestrian walking past a parked bike matches for a few frames only, which the per-track
    share (``rides``) absorbs.

    Args:
        xyxy: N×4 boxes in frame pixels.
        class_id: N class ids.

    Returns:
        N int64: the index (into ``xyxy``) of the ridden two-wheeler for riding persons, -1
        for every other box.
    """
    persons = np.flatnonzero(class_id == PERSON)
    wheels = np.flatnonzero(np.isin(class_id, list(RIDEABLE)))
    out = np.full(len(class_id), -1, np.int64)
    if len(persons) == 0 or len(wheels) == 0:
        return out
    pb, wb = xyxy[persons].astype(np.float64), xyxy[wheels].astype(np.float64)
    foot = anchors(pb, "bottom_center")[:, None, :]
    ww, wh = wb[:, 2] - wb[:, 0], wb[:, 3] - wb[:, 1]
    inside_x = (foot[..., 0] >= wb[:, 0] + 0.1 * ww) & (foot[..., 0] <= wb[:, 2] - 0.1 * ww)
    inside_y = (foot[..., 1] >= wb[:, 1]) & (foot[..., 1] <= wb[:, 3] + 0.1 * wh)
    overlap = intersection_matrix(pb, wb)
    ok = inside_x & inside_y & (overlap >= 0.2 * np.maximum(ww * wh, 1e-9))
    best = np.argmax(np.where(ok, overlap, -1.0), axis=1)
    out[persons] = np.where(ok.any(axis=1), wheels[best], -1)
    return out

"""Detection stage: what every decoder shares: candidates, the anchor grid, class pick, NMS.

The per-family decoders (``edge.detect.decoders``) turn raw outputs into ``Candidates``;
``to_detections`` runs NMS on them and maps the kept boxes to frame pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from edge.classes import GROUP
from edge.detect.preprocess import Letterbox
from edge.errors import ModelError
from edge.types import Detections, FloatArray, IntArray

#: At most this many candidates (best first) go into NMS; bounds its cost in a crowd.
MAX_CANDIDATES = 1000
#: cv2's stubs type the arguments as sequences; it takes numpy arrays directly.
_NMS_BATCHED: Any = cv2.dnn.NMSBoxesBatched


@dataclass(frozen=True)
class Candidates:
    """Decoded boxes above the score threshold, before NMS, in model-input pixels.

    Attributes:
        xyxy_model: N×4 float32 boxes in model-input pixels.
        score: N float32 scores.
        class_id: N int64 ids into ``edge.classes.CLASS_NAMES`` (uncounted classes removed).
    """

    xyxy_model: FloatArray
    score: FloatArray
    class_id: IntArray


class Decoder(Protocol):
    """Turns one model's raw outputs (in manifest order) into ``Candidates``."""

    def __call__(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates: ...


def anchor_grid(input_wh: tuple[int, int], strides: Sequence[int]) -> tuple[FloatArray, FloatArray]:
    """Grid cell indices and their stride for every output row, finest level first.

    Returns:
        ``xy`` N×2 float32 (cell x, cell y; row-major, y outer) and ``stride`` N float32.
    """
    xy, stride = [], []
    for s in strides:
        gw, gh = input_wh[0] // s, input_wh[1] // s
        gy, gx = np.mgrid[0:gh, 0:gw]
        xy.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        stride.append(np.full(gw * gh, s))
    return np.concatenate(xy).astype(np.float32), np.concatenate(stride).astype(np.float32)


def select_best_class(
    scores: FloatArray, min_score: float, cmap: IntArray
) -> tuple[npt.NDArray[np.intp], FloatArray, IntArray]:
    """Per row: best class over all model classes; keep rows ≥ ``min_score`` of counted classes.

    The arg-max runs over every model class, so a box that is best a dog is dropped rather
    than relabelled as its runner-up counted class.

    Returns:
        Row indices, their score and our class id.
    """
    best = scores.max(axis=1)
    rows = np.flatnonzero(best >= min_score)
    ours = cmap[scores[rows].argmax(axis=1)]
    keep = ours >= 0
    return rows[keep], best[rows[keep]], ours[keep]


def nms(cands: Candidates, iou: float) -> npt.NDArray[np.intp]:
    """Non-maximum suppression within class groups; indices kept, best score first.

    Groups (``edge.classes.GROUP``): person; two-wheelers; four-wheelers (car, bus, truck).
    Within a group a box suppresses worse boxes of any class in it, so a vehicle boxed
    both as car and as truck is kept once (as its best class); a rider's person box and
    the motorcycle under it do not suppress each other.

    Args:
        cands: decoded candidates.
        iou: a box is suppressed by a better box of its group overlapping more than this.
            Lower merges more (fewer duplicates, but close-following vehicles merge);
            higher keeps overlapping neighbours (and more duplicate boxes).
    """
    if len(cands.score) == 0:
        return np.zeros(0, np.intp)
    xywh = cands.xyxy_model.copy()
    xywh[:, 2:] -= xywh[:, :2]
    group = GROUP[cands.class_id].astype(np.int32)
    keep = _NMS_BATCHED(xywh, cands.score, group, 0.0, iou)
    kept = np.asarray(keep, np.intp).reshape(-1)
    return kept[np.argsort(-cands.score[kept], kind="stable")]


def _top_k(cands: Candidates, k: int) -> Candidates:
    if len(cands.score) <= k:
        return cands
    idx = np.argpartition(-cands.score, k)[:k]
    return Candidates(cands.xyxy_model[idx], cands.score[idx], cands.class_id[idx])


def to_detections(cands: Candidates, letterbox: Letterbox, nms_iou: float) -> Detections:
    """NMS, map boxes to frame pixels (clipped), drop boxes left with no area.

    Args:
        cands: decoded candidates in model-input pixels.
        letterbox: the mapping returned by the preprocessor for this frame.
        nms_iou: IoU above which a same-class box is suppressed (see ``nms``).
    """
    cands = _top_k(cands, MAX_CANDIDATES)
    kept = nms(cands, nms_iou)
    if len(kept) == 0:
        return Detections.empty()
    xyxy = letterbox.to_frame(cands.xyxy_model[kept])
    area_ok = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    return Detections(
        xyxy[area_ok], cands.score[kept][area_ok], cands.class_id[kept][area_ok].astype(np.int64)
    )


def check_class_count(model: str, scores_in_output: int, classes_in_manifest: int) -> None:
    """A decoder's guard: the output carries one score per class the manifest lists.

    Raises:
        ModelError: naming the model, when the counts differ (a model trained on another class
            list needs a manifest listing its classes in output order).
    """
    if scores_in_output != classes_in_manifest:
        raise ModelError(
            f"model {model}: its output has {scores_in_output} class scores but its manifest "
            f"lists {classes_in_manifest} classes: list the model's classes in output order"
        )

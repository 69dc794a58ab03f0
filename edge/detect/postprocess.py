"""Detection stage: raw model outputs → ``Detections`` (decode per family, class map, NMS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from edge.classes import GROUP, class_map
from edge.detect.manifest import ModelManifest
from edge.detect.preprocess import Letterbox
from edge.errors import ModelError
from edge.types import Detections, FloatArray, IntArray

NANODET_BINS = 8
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
        class_id: N int64 ids into ``edge.types.CLASS_NAMES`` (uncounted classes removed).
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


class YoloxDecoder:
    """YOLOX ``[1, N, 85]``: ``[dx, dy, log_w, log_h, obj, 80 cls]``, score = obj × cls."""

    def __init__(self, manifest: ModelManifest) -> None:
        """Precompute the anchor grid for the manifest's input size and strides."""
        self._xy, self._stride = anchor_grid(manifest.input.size_wh, manifest.strides)
        self._cmap = class_map(manifest.classes)

    def __call__(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates:
        """Decode; see ``Decoder``."""
        out = outputs[0][0]
        pre = np.flatnonzero(out[:, 4] >= min_score)  # score ≤ obj: cheap first cut
        rows_pre = out[pre]
        scores = rows_pre[:, 5:] * rows_pre[:, 4:5]
        sel, score, cls = select_best_class(scores, min_score, self._cmap)
        rows, idx = rows_pre[sel], pre[sel]
        s = self._stride[idx, None]
        cxy = (rows[:, 0:2] + self._xy[idx]) * s
        half = np.exp(rows[:, 2:4]) * s * 0.5
        xyxy = np.concatenate([cxy - half, cxy + half], axis=1)
        return Candidates(xyxy.astype(np.float32), score.astype(np.float32), cls)


class NanoDetDecoder:
    """NanoDet (GFL): per stride a ``[1, N, C]`` score output, then per stride ``[1, N, 32]``
    box distributions (l, t, r, b × 8 bins, softmax, expectation × stride)."""

    def __init__(self, manifest: ModelManifest) -> None:
        """Precompute point centres ``(x·s + (s−1)/2, y·s + (s−1)/2)`` for every row."""
        xy, stride = anchor_grid(manifest.input.size_wh, manifest.strides)
        self._centre = xy * stride[:, None] + (stride[:, None] - 1) / 2
        self._stride = stride
        self._levels = len(manifest.strides)
        self._cmap = class_map(manifest.classes)
        self._bins = np.arange(NANODET_BINS, dtype=np.float32)

    def __call__(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates:
        """Decode; see ``Decoder``. Softmax runs only on rows that pass the score cut."""
        scores = np.concatenate([o[0] for o in outputs[: self._levels]], axis=0)
        idx, score, cls = select_best_class(scores, min_score, self._cmap)
        dist = np.concatenate([o[0] for o in outputs[self._levels :]], axis=0)[idx]
        logits = dist.reshape(-1, 4, NANODET_BINS)
        p = np.exp(logits - logits.max(axis=2, keepdims=True))
        ltrb = (p @ self._bins) / p.sum(axis=2) * self._stride[idx, None]
        c = self._centre[idx]
        xyxy = np.concatenate([c - ltrb[:, 0:2], c + ltrb[:, 2:4]], axis=1)
        return Candidates(xyxy.astype(np.float32), score.astype(np.float32), cls)


class Yolov8Decoder:
    """Ultralytics YOLOv8/YOLO11 ``[1, 4 + C, N]``: cx, cy, w, h, then C class scores
    (sigmoid applied, no objectness), boxes already in model-input pixels."""

    def __init__(self, manifest: ModelManifest) -> None:
        """Build the class map; this layout needs no grid."""
        self._cmap = class_map(manifest.classes)

    def __call__(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates:
        """Decode; see ``Decoder``."""
        out = outputs[0][0]  # (4 + C, N)
        best = out[4:].max(axis=0)
        rows = np.flatnonzero(best >= min_score)
        ours = self._cmap[out[4:, rows].argmax(axis=0)]
        keep = ours >= 0
        rows, score, cls = rows[keep], best[rows[keep]], ours[keep]
        box = out[:4, rows].T
        half = box[:, 2:4] * 0.5
        xyxy = np.concatenate([box[:, 0:2] - half, box[:, 0:2] + half], axis=1)
        return Candidates(xyxy.astype(np.float32), score.astype(np.float32), cls)


def make_decoder(manifest: ModelManifest) -> Decoder:
    """The decoder named by ``manifest.family``.

    Raises:
        ModelError: the family has no decoder.
    """
    decoders: dict[str, type[YoloxDecoder | NanoDetDecoder | Yolov8Decoder]] = {
        "yolox": YoloxDecoder,
        "nanodet": NanoDetDecoder,
        "yolov8": Yolov8Decoder,
    }
    if manifest.family not in decoders:
        raise ModelError(f"model {manifest.name}: no decoder for family {manifest.family!r}")
    return decoders[manifest.family](manifest)


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

"""Detection stage: COCO class names and their mapping onto the classes the product counts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.types import CLASS_ID, CLASS_NAMES, IntArray

#: The 80 COCO class names in the order every COCO-trained detector emits them.
COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

#: Other spellings of our class names found in model label lists.
_ALIASES: dict[str, str] = {"motorbike": "motorcycle", "pedestrian": "person"}

#: Value in a class map for a model class the product does not count.
DROPPED = -1


#: NMS group of each of our class ids. Boxes of one group suppress each other: the model often
#: puts a car and a truck (or a bicycle and a motorcycle) box on the same vehicle, which a
#: tracker would count twice; a rider (person) and their two-wheeler stay separate.
NMS_GROUP: IntArray = np.asarray(
    [{"person": 0, "bicycle": 1, "motorcycle": 1}.get(name, 2) for name in CLASS_NAMES], np.int64
)


def class_map(model_classes: Sequence[str]) -> IntArray:
    """Map each model class index to our class id (``edge.types.CLASS_NAMES``).

    Args:
        model_classes: the model's class names in output order (e.g. ``COCO_CLASSES``).

    Returns:
        int64 array of ``len(model_classes)``: our class id, or ``DROPPED`` (-1) for classes
        the product does not count (a detection of those is discarded).
    """
    ids = [CLASS_ID.get(_ALIASES.get(name, name), DROPPED) for name in model_classes]
    return np.asarray(ids, dtype=np.int64)

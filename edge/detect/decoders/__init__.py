"""Detection stage: one decoder per model family, chosen by the manifest's ``family``.

Each decoder turns one model's raw outputs (in manifest order) into ``Candidates`` in
model-input pixels; the shared NMS and mapping to frame pixels are in
``edge.detect.postprocess``.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.detect.decoders.nanodet import NanoDetDecoder
from edge.detect.decoders.ultralytics import UltralyticsDecoder
from edge.detect.decoders.yolox import YoloxDecoder
from edge.detect.manifest import ModelManifest
from edge.detect.postprocess import Decoder
from edge.errors import ModelError

#: Decoder per manifest ``family``.
DECODERS: dict[str, Callable[[ModelManifest], Decoder]] = {
    "yolox": YoloxDecoder,
    "nanodet": NanoDetDecoder,
    "ultralytics": UltralyticsDecoder,
}


def make_decoder(manifest: ModelManifest) -> Decoder:
    """The decoder named by ``manifest.family``.

    Raises:
        ModelError: the family has no decoder.
    """
    make = DECODERS.get(manifest.family)
    if make is None:
        raise ModelError(f"model {manifest.name}: no decoder for family {manifest.family!r}")
    return make(manifest)


__all__ = ["DECODERS", "NanoDetDecoder", "UltralyticsDecoder", "YoloxDecoder", "make_decoder"]

"""Annotated video for replays: boxes, track ids, counting lines with their ``in`` arrow and
direction names, and live counts, in an MP4 that plays in a browser.

Drawing is kept apart from counting so the counter stays a pure function of tracks.

Codec: browsers play H.264 in MP4, not MPEG-4 Part 2 (``mp4v``). OpenCV writes H.264
(``avc1``) only where its FFmpeg has an H.264 encoder, which the PyPI wheels usually lack.
Then the frames are written as ``mp4v`` and, when ``ffmpeg`` is on PATH, transcoded to H.264
when the file is closed; without ffmpeg the ``mp4v`` file stays and a warning says so.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np

from edge.classes import CLASS_NAMES
from edge.config import LineConfig
from edge.errors import SourceError
from edge.runtime.pipeline import FrameResult

log = logging.getLogger(__name__)
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # a failed avc1 probe is not an error

_COLOURS = [(66, 135, 245), (245, 66, 230), (66, 245, 96), (245, 164, 66), (66, 233, 245)]
_LINE_COLOUR = (0, 255, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Text height as a share of the frame height (about 11 px on a 360 px frame).
_TEXT_SHARE = 0.03
_PAD = 2

Box = tuple[int, int, int, int]


def text_scale(frame_h: int) -> float:
    """Font scale whose capital letters are about 3% of the frame height (readable at 640 px)."""
    return max(0.35, _TEXT_SHARE * frame_h / 22.0)


def _inside(x: int, y: int, wh: tuple[int, int], frame_wh: tuple[int, int]) -> Box:
    """The ``wh`` rectangle at ``(x, y)``, moved as little as needed to lie inside the frame."""
    x = min(max(x, 0), max(frame_wh[0] - wh[0], 0))
    y = min(max(y, 0), max(frame_wh[1] - wh[1], 0))
    return x, y, x + wh[0], y + wh[1]


def label_box(
    anchor_xy: tuple[int, int], text_wh: tuple[int, int], frame_wh: tuple[int, int]
) -> Box:
    """Where a label of ``text_wh`` goes: just above ``anchor_xy`` (a box's top-left corner),
    below it when there is no room above, and always wholly inside the frame.

    Returns:
        The label's background rectangle ``(x1, y1, x2, y2)`` in frame pixels.
    """
    wh = (text_wh[0] + 2 * _PAD, text_wh[1] + 2 * _PAD)
    y = anchor_xy[1] - wh[1] if anchor_xy[1] - wh[1] >= 0 else anchor_xy[1]
    return _inside(anchor_xy[0], y, wh, frame_wh)


def _put_label(
    image: np.ndarray,
    text: str,
    xy: tuple[int, int],
    colour: tuple[int, ...],
    centred: bool = False,
) -> None:
    """Text on a filled box in ``colour``, above ``xy`` (or centred on it), inside the frame."""
    scale = text_scale(image.shape[0])
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    frame_wh = (image.shape[1], image.shape[0])
    if centred:
        wh = (tw + 2 * _PAD, th + base + 2 * _PAD)
        x1, y1, x2, y2 = _inside(xy[0] - wh[0] // 2, xy[1] - wh[1] // 2, wh, frame_wh)
    else:
        x1, y1, x2, y2 = label_box(xy, (tw, th + base), frame_wh)
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, cv2.FILLED)
    ink = (0, 0, 0) if sum(colour[:3]) > 380 else (255, 255, 255)
    cv2.putText(image, text, (x1 + _PAD, y2 - _PAD - base), _FONT, scale, ink, 1, cv2.LINE_AA)


def in_direction(ln: LineConfig) -> tuple[float, float]:
    """Unit vector towards the right-hand side of A→B on screen: the ``in`` direction."""
    dx, dy = ln.b[0] - ln.a[0], ln.b[1] - ln.a[1]
    norm = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    return -dy / norm, dx / norm


def draw_line(image: np.ndarray, ln: LineConfig, counts: dict[str, int]) -> None:
    """The segment A→B, an arrow across its middle pointing ``in``, and at each end of the
    arrow the direction's name with its count so far."""
    a = (round(ln.a[0]), round(ln.a[1]))
    b = (round(ln.b[0]), round(ln.b[1]))
    cv2.line(image, a, b, _LINE_COLOUR, 2, cv2.LINE_AA)
    nx, ny = in_direction(ln)
    mx, my = (ln.a[0] + ln.b[0]) / 2, (ln.a[1] + ln.b[1]) / 2
    reach = max(12.0, 0.06 * image.shape[0])
    tail = (round(mx - nx * reach), round(my - ny * reach))
    tip = (round(mx + nx * reach), round(my + ny * reach))
    cv2.arrowedLine(image, tail, tip, _LINE_COLOUR, 2, cv2.LINE_AA, tipLength=0.35)
    for sign, name, key in ((1, ln.in_name, "in"), (-1, ln.out_name, "out")):
        text = f"{ln.name} {name}: {counts[key]}"
        (tw, th), base = cv2.getTextSize(text, _FONT, text_scale(image.shape[0]), 1)
        away = abs(nx) * tw / 2 + abs(ny) * (th + base) / 2 + reach + 6
        centre = (round(mx + sign * nx * away), round(my + sign * ny * away))
        _put_label(image, text, centre, _LINE_COLOUR, centred=True)


def _open_writer(path: Path, size_wh: tuple[int, int], fps: float) -> tuple[cv2.VideoWriter, bool]:
    """An H.264 writer if this OpenCV can, else ``mp4v``; True when it is H.264."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"avc1"), fps, size_wh)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if writer.isOpened():
        return writer, True
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size_wh)
    return writer, False


def transcode_h264(path: Path) -> bool:
    """Re-encode ``path`` to H.264 (yuv420p, moov atom first) in place with ffmpeg.

    Returns:
        False, with a warning, when ffmpeg is missing or fails (``path`` is left as it was).
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        log.warning(
            "%s: written as MPEG-4 Part 2 (mp4v), which browsers do not play: this OpenCV has "
            "no H.264 encoder and ffmpeg is not installed (apt-get install ffmpeg)", path,
        )  # fmt: skip
        return False
    tmp = path.with_name(f".{path.stem}.h264{path.suffix}")
    cmd = [ffmpeg, "-v", "error", "-y", "-i", str(path), "-c:v", "libx264", "-pix_fmt",
           "yuv420p", "-crf", "23", "-preset", "veryfast", "-movflags", "+faststart",
           str(tmp)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        log.warning("%s: left as mp4v; ffmpeg could not make H.264: %s", path, done.stderr.strip())
        return False
    tmp.replace(path)
    return True


class Annotator:
    """Writes one annotated frame per processed frame to an MP4 file that browsers play.

    Args:
        path: output file (``.mp4``; H.264, see the module docstring).
        size_wh: frame size in pixels.
        fps: frame rate of the output (the processed rate, so time runs true).
        lines: the counting lines to draw.

    Raises:
        SourceError: the file cannot be written.
    """

    def __init__(
        self, path: Path, size_wh: tuple[int, int], fps: float, lines: tuple[LineConfig, ...]
    ):
        self._path = path
        self._writer, self._h264 = _open_writer(path, size_wh, max(fps, 1.0))
        if not self._writer.isOpened():
            raise SourceError(f"{path}: cannot write annotated video")
        self._lines = lines
        self._totals: dict[str, dict[str, int]] = {ln.name: {"in": 0, "out": 0} for ln in lines}

    def write(self, result: FrameResult) -> None:
        """Draw the frame's tracks, the lines and the running totals, and append it."""
        image = result.frame.image.copy()
        for c in result.crossings:
            self._totals[c.line][c.direction] += 1
        tr = result.tracks
        for box, tid, cid in zip(tr.xyxy.astype(np.int32), tr.track_id, tr.class_id, strict=True):
            colour = _COLOURS[int(tid) % len(_COLOURS)]
            x1, y1, x2, y2 = (int(v) for v in box)
            cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2)
            _put_label(image, f"{CLASS_NAMES[int(cid)]} {int(tid)}", (x1, y1), colour)
        for ln in self._lines:
            draw_line(image, ln, self._totals[ln.name])
        self._writer.write(image)

    def close(self) -> None:
        """Finish the file (transcoded to H.264 if it was written as mp4v)."""
        self._writer.release()
        if not self._h264 and self._path.is_file():
            transcode_h264(self._path)

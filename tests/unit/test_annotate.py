"""The annotated video: browser-playable H.264, labels inside the frame, the ``in`` arrow."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge.config import LineConfig
from edge.geometry import Segment
from edge.runtime.annotate import Annotator, in_direction, label_box
from edge.runtime.pipeline import FrameResult, StageTimes
from edge.types import Detections, Frame, Tracks

FRAME_WH = (640, 360)


@pytest.mark.parametrize(
    ("anchor", "text_wh", "expected"),
    [
        ((100, 100), (60, 12), (100, 84, 164, 100)),  # room above the box: just above it
        ((100, 5), (60, 12), (100, 5, 164, 21)),  # at the top edge: below the corner
        ((620, 50), (60, 12), (576, 34, 640, 50)),  # at the right edge: moved left
        ((-20, 400), (60, 12), (0, 344, 64, 360)),  # outside: pulled inside
    ],
)
def test_a_label_is_never_cut_at_the_frame_edge(
    anchor: tuple[int, int], text_wh: tuple[int, int], expected: tuple[int, int, int, int]
) -> None:
    box = label_box(anchor, text_wh, FRAME_WH)
    assert box == expected
    assert 0 <= box[0] < box[2] <= FRAME_WH[0] and 0 <= box[1] < box[3] <= FRAME_WH[1]


@pytest.mark.parametrize("b", [(600, 200), (40, 200), (300, 20), (500, 330)])
def test_the_arrow_points_to_the_side_the_counter_calls_in(b: tuple[int, int]) -> None:
    line = LineConfig(name="L1", a=(300, 200), b=b)
    nx, ny = in_direction(line)
    tip = np.array([[300 + (b[0] - 300) / 2 + 10 * nx, 200 + (b[1] - 200) / 2 + 10 * ny]])
    assert Segment.of(line.a, line.b).side(tip)[0] == 1  # right of A->B: where "in" goes


def frames(n: int) -> list[FrameResult]:
    """A grey 640x360 picture with one car at the top-right corner of the frame."""
    times = StageTimes(0.0, 0.0, 0.0, 0.0, 0.0)
    out = []
    for seq in range(n):
        ts = seq / 10
        tracks = Tracks(
            np.array([[560.0, 0.0, 640.0, 40.0]], np.float32), np.ones(1, np.float32),
            np.array([2]), np.array([7]), ts,
        )  # fmt: skip
        image = np.full((FRAME_WH[1], FRAME_WH[0], 3), 90, np.uint8)
        out.append(FrameResult(Frame(image, ts, seq), Detections.empty(), tracks, (), times))
    return out


def test_the_video_is_h264_that_browsers_play(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "annotated.mp4"
    lines = (LineConfig(name="L1", a=(100, 200), b=(540, 200), in_name="to Georgia"),)
    annotator = Annotator(out, FRAME_WH, 10.0, lines)
    for result in frames(20):
        annotator.write(result)
    with caplog.at_level(logging.WARNING):
        annotator.close()
    if shutil.which("ffmpeg") is None:  # then the file stays mp4v and the user is told
        assert "browsers do not play" in caplog.text
        return
    probe = shutil.which("ffprobe")
    assert probe, "ffmpeg without ffprobe"
    cmd = [probe, "-v", "error", "-show_entries", "stream=codec_name,pix_fmt,nb_frames",
           "-of", "json", str(out)]  # fmt: skip
    (stream,) = json.loads(subprocess.check_output(cmd))["streams"]
    assert stream == {"codec_name": "h264", "pix_fmt": "yuv420p", "nb_frames": "20"}
    assert not list(tmp_path.glob(".*"))  # no temp file left behind

"""The sample clip without a mirror: its upstream video, served over HTTP on loopback, replays
to the same counts as the mirror's clip, and a corrupted download is refused.

The real upstream file cannot be fetched here (no internet), so the test builds a stand-in:
the mirror's clip with 40 other frames in front, encoded losslessly (x264 ``-qp 0`` decodes to
the same YUV, so OpenCV gives the same BGR frames). The stand-in's URL and sha256 go into a
clip index in a temporary data dir, the way ``data/clips.json`` names the real upstream.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from edge import app
from edge.capture.replay import ReplaySource
from edge.config import AppConfig, ReplaySourceConfig
from edge.errors import AssetError
from edge.tools.clips import clip_video, fetch_clips, load_clip_index
from edge.tools.evaluate import load_clip
from tests.conftest import CLIPS_DIR, MODELS_DIR, ROOT, require_asset

pytestmark = pytest.mark.slow

CLIP = "road_cctv_vehicles"
START = 40


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log on stderr."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a folder holding the stand-in and a corrupted copy."""
    mirror_clip = require_asset(CLIPS_DIR / CLIP / "video.mp4")
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is needed to build the stand-in upstream (scripts/setup.sh installs it)"
    root = tmp_path_factory.mktemp("upstream")
    # 40 frames from later in the clip (cars crossing the line), then the whole clip.
    graph = (
        f"[0:v]trim=start_frame=10:end_frame={10 + START},setpts=PTS-STARTPTS[pre];"
        "[pre][1:v]concat=n=2:v=1[out]"
    )
    cmd = [ffmpeg, "-v", "error", "-y", "-i", str(mirror_clip), "-i", str(mirror_clip),
           "-filter_complex", graph, "-map", "[out]", "-c:v", "libx264", "-preset", "ultrafast",
           "-qp", "0", "-pix_fmt", "yuv420p", "-r", "25", str(root / "cars.mp4")]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=300)
    data = bytearray((root / "cars.mp4").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / "corrupt.mp4").write_bytes(bytes(data))
    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def data_dir_for(tmp_path: Path, url: str, digest: str) -> Path:
    """The repo's clip index and committed annotations, with the upstream pointed at ``url``."""
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data" / "clips", data / "clips")
    entry = load_clip_index(ROOT / "data")[CLIP]
    entry["upstream"].update({"url": url, "sha256": digest})
    (data / "clips.json").write_text(json.dumps({"clips": {CLIP: entry}}))
    return data


def replay_totals(path: Path, start_frame: int, tmp_path: Path) -> dict[str, object]:
    _, lines = load_clip(CLIPS_DIR / CLIP)
    source = ReplaySourceConfig(path=path, start_frame=start_frame)
    cfg = AppConfig.model_validate({
        "lines": lines, "source": source, "detector": {"detect_fps": 10},
        "device": {"state_dir": tmp_path / "state"},
    })  # fmt: skip
    report = app.run(cfg, app.Options(MODELS_DIR))
    return {"totals": report.totals, "frames": report.processed_frames}


def test_the_upstream_clip_replays_to_the_mirror_counts(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served
    data = data_dir_for(tmp_path, f"{url}/cars.mp4", sha256(root / "cars.mp4"))
    results = fetch_clips(data, None, [CLIP])
    assert [(r.path.name, r.action) for r in results] == [
        ("clip.json", "copied"),
        ("events.csv", "copied"),
        ("upstream.mp4", "downloaded"),
    ]
    folder = data / "videos" / CLIP
    video = clip_video(folder)
    assert (video.path.name, video.start_frame) == ("upstream.mp4", START)
    assert load_clip(folder) == load_clip(CLIPS_DIR / CLIP)  # the same lines and truth
    # The same frames, bit for bit, at the same times.
    derived, mirror = (
        ReplaySource(video.path, start_frame=START),
        ReplaySource(CLIPS_DIR / CLIP / "video.mp4"),
    )
    assert derived.frame_count == mirror.frame_count == 1150
    for a, b in zip(derived.frames(), mirror.frames(), strict=True):
        assert (a.seq, round(a.ts_s, 6)) == (b.seq, round(b.ts_s, 6))
        assert np.array_equal(a.image, b.image), a.seq
    got = replay_totals(video.path, START, tmp_path / "a")
    want = replay_totals(CLIPS_DIR / CLIP / "video.mp4", 0, tmp_path / "b")
    assert got == want
    assert sum(n for d in want["totals"]["L1"].values() for n in d.values()) > 20  # type: ignore[index]


def test_a_corrupted_download_is_refused_with_the_sha256(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served
    expected = sha256(root / "cars.mp4")
    data = data_dir_for(tmp_path, f"{url}/corrupt.mp4", expected)
    with pytest.raises(AssetError) as err:
        fetch_clips(data, None, [CLIP])
    message = str(err.value)
    assert expected in message and sha256(root / "corrupt.mp4") in message
    assert f"{url}/corrupt.mp4" in message
    assert not (data / "videos" / CLIP / "upstream.mp4").exists()
    assert not (data / "videos" / CLIP / "video.json").exists()


def test_the_demo_runs_on_the_clip_fetched_from_upstream(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    """A bare clone's demo: no mirror, the clip from upstream, its hand count beside the counts."""
    url, root = served
    data = data_dir_for(tmp_path, f"{url}/cars.mp4", sha256(root / "cars.mp4"))
    fetch_clips(data, None, [CLIP])
    assert not (data / "videos" / CLIP / "video.mp4").exists()
    cmd = [sys.executable, "-m", "edge.cli", "demo", "--http", "127.0.0.1:0", "--exit",
           "--detect-fps", "5"]  # fmt: skip
    env = {**os.environ, "EDGE_COUNTER_MODELS": str(MODELS_DIR), "EDGE_COUNTER_DATA": str(data)}
    env.pop("EDGE_COUNTER_MIRROR", None)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    assert f"upstream.mp4 from frame {START}" in done.stdout
    rows = [r.split() for r in done.stdout.splitlines() if re.match(r"^L1\s+(in|out)\s", r)]
    truth = {(r[1], r[2]): int(r[3]) for r in rows}
    assert truth[("out", "car")] == 29 and truth[("out", "bus")] == 3, done.stdout
    assert all(r[4] == r[5] for r in rows), done.stdout  # replay == collector

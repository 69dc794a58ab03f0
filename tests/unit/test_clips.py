"""Clips without a mirror: committed annotations plus the upstream video, sha256-checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from edge.errors import AssetError, ConfigError
from edge.tools.clips import clip_video, fetch_clips, hand_count, load_clip_index

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = b"\x00\x00\x00\x18ftypisom the upstream video" * 50
NOTE = b'{"lines": []}'


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_data(tmp_path: Path, upstream_sha: str) -> tuple[Path, Path]:
    """A data dir with an index of one upstream clip and one mirror-only clip."""
    data, src = tmp_path / "data", tmp_path / "upstream.mp4"
    src.write_bytes(UPSTREAM)
    (data / "clips" / "clip_u").mkdir(parents=True)
    (data / "clips" / "clip_u" / "clip.json").write_bytes(NOTE)
    upstream = {"url": src.as_uri(), "sha256": upstream_sha, "file": "up.mp4", "start_frame": 40}
    files = {"clip.json": {"sha256": sha(NOTE)}, "video.mp4": {"sha256": "0" * 64}}
    index = {
        "clip_u": {"split": "public", "files": files, "upstream": upstream},
        "clip_m": {"split": "public", "files": {"video.mp4": {"sha256": "1" * 64}}},
    }
    (data / "clips.json").write_text(json.dumps({"clips": index}))
    return data, src


def test_without_a_mirror_an_upstream_clip_is_fetched_and_resolves(tmp_path: Path) -> None:
    data, _ = make_data(tmp_path, sha(UPSTREAM))
    results = fetch_clips(data, None, ["clip_u"])
    assert [(r.path.name, r.action) for r in results] == [
        ("clip.json", "copied"),
        ("up.mp4", "downloaded"),
    ]
    folder = data / "videos" / "clip_u"
    assert (folder / "up.mp4").read_bytes() == UPSTREAM
    video = clip_video(folder)
    assert (video.path, video.start_frame) == (folder / "up.mp4", 40)
    assert [r.action for r in fetch_clips(data, None, ["clip_u"])] == ["present", "present"]


def test_a_corrupt_upstream_download_is_refused_naming_both_hashes(tmp_path: Path) -> None:
    expected = sha(UPSTREAM + b"x")
    data, _ = make_data(tmp_path, expected)
    with pytest.raises(AssetError) as err:
        fetch_clips(data, None, ["clip_u"])
    assert expected in str(err.value) and sha(UPSTREAM) in str(err.value)
    folder = data / "videos" / "clip_u"
    assert not (folder / "up.mp4").exists() and not (folder / "video.json").exists()


def test_mirror_only_clips_fail_after_the_others_were_fetched(tmp_path: Path) -> None:
    data, _ = make_data(tmp_path, sha(UPSTREAM))
    with pytest.raises(AssetError, match=r"clip_m come only from a mirror .*fetched: clip_u"):
        fetch_clips(data, None)
    assert (data / "videos" / "clip_u" / "up.mp4").is_file()


def test_the_mirror_comes_first(tmp_path: Path) -> None:
    data, _ = make_data(tmp_path, sha(UPSTREAM))
    mirror = tmp_path / "mirror" / "videos" / "clip_u"
    mirror.mkdir(parents=True)
    (mirror / "clip.json").write_bytes(NOTE)
    with pytest.raises(AssetError, match=r"clip_u/video\.mp4: missing from the mirror"):
        fetch_clips(data, tmp_path / "mirror", ["clip_u"])


def test_a_failed_download_says_what_to_do_without_internet(tmp_path: Path) -> None:
    data, src = make_data(tmp_path, sha(UPSTREAM))
    src.unlink()
    with pytest.raises(AssetError, match=r"could not download .*--mirror DIR"):
        fetch_clips(data, None, ["clip_u"])


def test_a_folder_without_a_video_names_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"assets fetch clip_x"):
        clip_video(tmp_path / "clip_x")


def test_the_committed_annotations_match_the_index() -> None:
    """``data/clips/<clip>/`` holds the same bytes the index (and the mirror) has."""
    index = load_clip_index(ROOT / "data")
    committed = sorted(p for p in (ROOT / "data" / "clips").glob("*/*") if p.is_file())
    assert committed, "no committed annotations"
    for path in committed:
        clip = index[path.parent.name]
        assert "upstream" in clip, path
        assert clip["files"][path.name]["sha256"] == sha(path.read_bytes()), path


def test_the_hand_count_keeps_only_annotated_classes() -> None:
    line = {"id": "L1", "ground_truth": {"per_class": {"car": {"out": 29}, "person": {"in": 2}}}}
    meta = {"lines": [line], "classes_annotated": ["car"]}
    assert hand_count(meta) == {"L1": {"in": {"car": 0}, "out": {"car": 29}}}

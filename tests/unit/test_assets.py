"""Asset step against a small mirror built in tmp_path: copy, skip, verify, refuse."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.cli import main
from edge.errors import AssetError
from edge.tools.assets import fetch_models
from edge.tools.clips import fetch_clips

WEIGHTS = b"not really onnx, but checksummed all the same" * 100
VIDEO = b"\x00\x00\x00\x18ftypmp42 tiny"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Layout:
    mirror: Path
    models: Path
    data: Path


def write_manifest(models: Path, accepted: dict[str, str], urls: tuple[str, ...] = ()) -> None:
    manifest = {
        "name": "tiny",
        "family": "yolox",
        "file": "tiny.onnx",
        "sha256": next(iter(accepted)),
        "sha256_accepted": accepted,
        "urls": list(urls),
        "input": {"name": "images", "size_wh": [416, 416]},
        "outputs": ["output"],
    }
    (models / "tiny.json").write_text(json.dumps(manifest))


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    mirror, models, data = tmp_path / "mirror", tmp_path / "models", tmp_path / "data"
    (mirror / "models").mkdir(parents=True)
    (mirror / "videos" / "clip_a").mkdir(parents=True)
    models.mkdir()
    data.mkdir()
    (mirror / "models" / "tiny.onnx").write_bytes(WEIGHTS)
    (mirror / "videos" / "clip_a" / "video.mp4").write_bytes(VIDEO)
    (mirror / "videos" / "clip_a" / "clip.json").write_text("{}")
    write_manifest(models, {sha(WEIGHTS): "mirror copy"})
    files = {"video.mp4": {"sha256": sha(VIDEO)}, "clip.json": {"sha256": sha(b"{}")}}
    index = {"clips": {"clip_a": {"split": "public", "files": files}}}
    (data / "clips.json").write_text(json.dumps(index))
    return Layout(mirror, models, data)


def test_copies_from_the_mirror_then_skips_matching_files(layout: Layout) -> None:
    first = fetch_models(layout.models, layout.mirror)
    assert [(r.name, r.action) for r in first] == [("tiny", "copied")]
    assert (layout.models / "tiny.onnx").read_bytes() == WEIGHTS
    assert "mirror copy" in first[0].checksum
    assert [r.action for r in fetch_models(layout.models, layout.mirror)] == ["present"]
    clips = fetch_clips(layout.data, layout.mirror)
    assert sorted(r.path.name for r in clips) == ["clip.json", "video.mp4"]
    assert (layout.data / "videos" / "clip_a" / "video.mp4").read_bytes() == VIDEO


def test_a_corrupt_destination_is_replaced(layout: Layout) -> None:
    (layout.models / "tiny.onnx").write_bytes(WEIGHTS[:-10])
    assert [r.action for r in fetch_models(layout.models, layout.mirror)] == ["copied"]
    assert (layout.models / "tiny.onnx").read_bytes() == WEIGHTS


def test_wrong_sha256_fails_and_installs_nothing(layout: Layout) -> None:
    (layout.mirror / "models" / "tiny.onnx").write_bytes(WEIGHTS + b"tampered")
    with pytest.raises(AssetError, match=r"tiny\.onnx: sha256"):
        fetch_models(layout.models, layout.mirror)
    assert sorted(p.name for p in layout.models.iterdir()) == ["tiny.json"]


def test_either_accepted_hash_is_fine_and_named(layout: Layout) -> None:
    write_manifest(layout.models, {"0" * 64: "official asset", sha(WEIGHTS): "our mirror copy"})
    (result,) = fetch_models(layout.models, layout.mirror)
    assert "our mirror copy" in result.checksum


def test_missing_source_file_fails_naming_it(layout: Layout) -> None:
    (layout.mirror / "videos" / "clip_a" / "clip.json").unlink()
    with pytest.raises(AssetError, match=r"clip_a/clip\.json: missing"):
        fetch_clips(layout.data, layout.mirror)


@pytest.mark.parametrize("kind", ["model", "clip"])
def test_unknown_name_fails(layout: Layout, kind: str) -> None:
    with pytest.raises(AssetError, match="nope"):
        if kind == "model":
            fetch_models(layout.models, layout.mirror, ["nope"])
        else:
            fetch_clips(layout.data, layout.mirror, ["nope"])


def test_clips_need_a_mirror(layout: Layout) -> None:
    with pytest.raises(AssetError, match="only from a mirror"):
        fetch_clips(layout.data, None)


def test_download_tries_each_url_and_verifies(layout: Layout, tmp_path: Path) -> None:
    upstream = tmp_path / "upstream.onnx"
    upstream.write_bytes(WEIGHTS)
    urls = ((tmp_path / "gone.onnx").as_uri(), upstream.as_uri())
    write_manifest(layout.models, {sha(WEIGHTS): "release asset"}, urls)
    (result,) = fetch_models(layout.models, None)
    assert result.action == "downloaded"
    assert (layout.models / "tiny.onnx").read_bytes() == WEIGHTS
    write_manifest(layout.models, {"0" * 64: "release asset"}, urls)
    (layout.models / "tiny.onnx").unlink()
    with pytest.raises(AssetError, match=r"tiny\.onnx"):
        fetch_models(layout.models, None)


def cli(layout: Layout, *extra: str) -> int:
    base = ["assets", "fetch", "--models-dir", str(layout.models), "--data-dir", str(layout.data)]
    return main([*base, *extra])


def test_cli_fetches_from_the_env_mirror(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_COUNTER_MIRROR", str(layout.mirror))
    assert cli(layout) == 0
    assert (layout.data / "videos" / "clip_a" / "video.mp4").is_file()


def test_cli_reports_errors_with_exit_2(
    layout: Layout, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("EDGE_COUNTER_MIRROR", raising=False)
    assert cli(layout, "--only", "clips") == 2
    assert "only from a mirror" in capsys.readouterr().err
    assert cli(layout, "--mirror", str(layout.mirror), "bogus") == 2
    assert "bogus" in capsys.readouterr().err
    assert cli(layout, "--mirror", str(layout.mirror), "tiny") == 0
    assert not (layout.data / "videos").exists()

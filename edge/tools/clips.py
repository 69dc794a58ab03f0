"""Asset step for sample clips: from a mirror, else from the clip's public upstream video plus
the annotations committed in ``data/clips/``, every file checked against its sha256.

A clip folder (``data/videos/<clip>/``) holds ``clip.json``, ``events.csv`` and its video:
``video.mp4`` (the mirror's copy), or the upstream file it was cut from and a ``video.json``
naming that file and the frame the clip starts at. ``clip_video`` resolves either, so the
ground truth (frame 0 = the clip's first frame) applies to both.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.capture.replay import ReplaySource
from edge.detect.manifest import sha256_file
from edge.errors import AssetError, ConfigError
from edge.tools.assets import (
    NO_INTERNET_HINT,
    Action,
    FetchResult,
    install_file,
    stream_verified,
    url_chunks,
)

VIDEO = "video.mp4"
#: In a clip folder fetched from upstream: which file is the video and where the clip starts.
VIDEO_REF = "video.json"


@dataclass(frozen=True)
class ClipVideo:
    """Where a clip's frames are: a file and the index of the clip's first frame in it."""

    path: Path
    start_frame: int = 0

    def duration_s(self) -> float:
        """Length of the clip from the file's header (0 when its rate is unknown).

        Raises:
            SourceError: the file is missing or not a video.
        """
        return self._probe()[0]

    def size_wh(self) -> tuple[int, int]:
        """Frame width and height in pixels.

        Raises:
            SourceError: the file is missing or not a video.
        """
        return self._probe()[1]

    def _probe(self) -> tuple[float, tuple[int, int]]:
        source = ReplaySource(self.path, start_frame=self.start_frame)
        try:
            return source.duration_s, source.size_wh
        finally:
            source.close()


@dataclass(frozen=True)
class Upstream:
    """A clip's public source video (``upstream`` in ``clips.json``).

    Attributes:
        url: where to download it.
        sha256: the upstream file's hash; anything else is refused.
        file: the name it is stored under in the clip folder.
        start_frame: the clip's frame 0 in the upstream file (its ground truth counts from it).
    """

    url: str
    sha256: str
    file: str
    start_frame: int

    @classmethod
    def from_index(cls, clip: str, meta: dict[str, Any]) -> Upstream:
        """Read the ``upstream`` entry of one clip of the index.

        Raises:
            AssetError: a field is missing or of the wrong type, naming it.
        """
        try:
            return cls(str(meta["url"]), str(meta["sha256"]), str(meta["file"]),
                       int(meta.get("start_frame", 0)))  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            raise AssetError(f"clips.json: clips.{clip}.upstream: invalid ({err!r})") from None


def hand_count(meta: dict[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
    """A clip's true counts per line, direction and annotated class, from ``clip.json`` as
    ``edge.tools.evaluate.load_clip`` returns it (``lines[].ground_truth.per_class``)."""
    annotated = meta.get("classes_annotated")
    truth: dict[str, dict[str, dict[str, int]]] = {}
    for ln in meta["lines"]:
        per_dir: dict[str, dict[str, int]] = {"in": {}, "out": {}}
        for cls, dirs in ln["ground_truth"]["per_class"].items():
            if annotated is None or cls in annotated:
                for d in ("in", "out"):
                    per_dir[d][cls] = int(dirs.get(d, 0))
        truth[ln["id"]] = per_dir
    return truth


def load_clip_index(data_dir: Path) -> dict[str, Any]:
    """Read ``data_dir/clips.json``: clip name -> {split, files: {name: {sha256, size_bytes}},
    optionally upstream: {url, sha256, file, start_frame}}.

    Raises:
        AssetError: the index is missing or not valid JSON.
    """
    path = data_dir / "clips.json"
    try:
        clips: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["clips"]
    except OSError as err:
        raise AssetError(f"{path}: cannot read the clip index: {err.strerror}") from None
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise AssetError(f"{path}: invalid clip index: {err!r}") from None
    return clips


def clip_video(clip_dir: Path) -> ClipVideo:
    """The video of a clip folder: ``video.mp4``, else the upstream file named by ``video.json``.

    Raises:
        ConfigError: the folder has neither, or ``video.json`` is unreadable.
    """
    if (clip_dir / VIDEO).is_file():
        return ClipVideo(clip_dir / VIDEO)
    ref = clip_dir / VIDEO_REF
    if not ref.is_file():
        raise ConfigError(
            f"{clip_dir}: no video for this clip (run: edge-counter assets fetch {clip_dir.name})"
        )
    try:
        meta = json.loads(ref.read_text(encoding="utf-8"))
        return ClipVideo(clip_dir / str(meta["file"]), int(meta["start_frame"]))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{ref}: unreadable video reference: {err!r}") from None


def download_upstream(clip: str, upstream: Upstream, clip_dir: Path) -> FetchResult:
    """Download a clip's upstream video into ``clip_dir`` and write its ``video.json``.

    Raises:
        AssetError: the download failed, or the bytes do not have the upstream sha256 (the
            message gives both hashes; nothing is installed).
    """
    dest = clip_dir / upstream.file
    accepted = {upstream.sha256: "upstream"}
    present = dest.is_file() and sha256_file(dest) == upstream.sha256
    note = f"sha256 {upstream.sha256[:12]}… (upstream)"
    action: Action = "present"
    if not present:
        try:
            note = stream_verified(dest, url_chunks(upstream.url), accepted)
        except (urllib.error.URLError, OSError) as err:
            raise AssetError(
                f"{clip}: could not download {upstream.url}: {err}; {NO_INTERNET_HINT}"
            ) from None
        except AssetError as err:
            raise AssetError(f"{clip}: download from {upstream.url} refused: {err}") from None
        action = "downloaded"
    ref = {"file": upstream.file, "start_frame": upstream.start_frame,
           "sha256": upstream.sha256, "url": upstream.url}  # fmt: skip
    (clip_dir / VIDEO_REF).write_text(json.dumps(ref, indent=1) + "\n", encoding="utf-8")
    return FetchResult(clip, dest, action, note)


def _without_mirror(data_dir: Path, clip: str, meta: dict[str, Any]) -> list[FetchResult]:
    """The committed annotations (``data/clips/<clip>/``) and the upstream video."""
    clip_dir = data_dir / "videos" / clip
    results = []
    for fname, fmeta in sorted(meta["files"].items()):
        if fname != VIDEO:
            src = data_dir / "clips" / clip / fname
            accepted = {str(fmeta["sha256"]): "clip index"}
            results.append(install_file(clip, src, clip_dir / fname, accepted))
    results.append(download_upstream(clip, Upstream.from_index(clip, meta["upstream"]), clip_dir))
    return results


def fetch_clips(
    data_dir: Path, mirror: Path | None, names: Iterable[str] = ()
) -> list[FetchResult]:
    """Put each clip folder into ``data_dir/videos/<clip>``.

    The mirror comes first: a clip it holds is copied from ``mirror/videos/<clip>``. Otherwise
    a clip with an ``upstream`` entry gets its committed annotations and its upstream video
    (see the module docstring); a clip without one is an error, raised after the others were
    fetched, that says to use a mirror.

    Raises:
        AssetError: unknown clip, missing file, failed download or sha256 mismatch, naming
            the file.
    """
    index = load_clip_index(data_dir)
    wanted = list(names) or sorted(index)
    unknown = [n for n in wanted if n not in index]
    if unknown:
        raise AssetError(f"unknown clip(s) {unknown}; known: {sorted(index)}")
    results: list[FetchResult] = []
    mirror_only = []
    for clip in wanted:
        in_mirror = mirror is not None and (mirror / "videos" / clip).is_dir()
        if mirror is not None and (in_mirror or "upstream" not in index[clip]):
            for fname, meta in sorted(index[clip]["files"].items()):
                src, dest = mirror / "videos" / clip / fname, data_dir / "videos" / clip / fname
                results.append(install_file(clip, src, dest, {str(meta["sha256"]): "clip index"}))
        elif "upstream" in index[clip]:
            results += _without_mirror(data_dir, clip, index[clip])
        else:
            mirror_only.append(clip)
    if mirror_only:
        done = f" (fetched: {', '.join(sorted({r.name for r in results}))})" if results else ""
        raise AssetError(
            f"clip(s) {', '.join(mirror_only)} come only from a mirror (no public download){done}; "
            "pass --mirror DIR or set EDGE_COUNTER_MIRROR (README: 'Without internet')"
        )
    return results

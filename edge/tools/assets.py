"""Asset step: model weights from a mirror or upstream, sha256-checked (clips: ``tools.clips``)."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.detect.manifest import ModelManifest, load_manifest, sha256_file
from edge.errors import AssetError

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
DOWNLOAD_TIMEOUT_S = 60.0

Action = Literal["present", "copied", "downloaded"]
NO_INTERNET_HINT = (
    "without internet, put the files in a mirror folder (DIR/models/<file>, "
    "DIR/videos/<clip>/<file>; README: 'Without internet') and pass --mirror DIR or set "
    "EDGE_COUNTER_MIRROR"
)


@dataclass(frozen=True)
class FetchResult:
    """What the asset step did for one file.

    Attributes:
        name: model or clip name the file belongs to.
        path: destination file.
        action: ``present`` (already there with a matching sha256), ``copied`` or ``downloaded``.
        checksum: which accepted sha256 the file matched, and what that hash stands for.
    """

    name: str
    path: Path
    action: Action
    checksum: str


def _describe(digest: str, accepted: Mapping[str, str]) -> str:
    return f"sha256 {digest[:12]}… ({accepted[digest]})"


def stream_verified(dest: Path, chunks: Iterable[bytes], accepted: Mapping[str, str]) -> str:
    """Write ``chunks`` to a temp file beside ``dest``, check its hash, then rename it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
        hexdigest = digest.hexdigest()
        if hexdigest not in accepted:
            raise AssetError(
                f"{dest.name}: sha256 {hexdigest} matches none of {sorted(accepted)}: "
                "corrupt or wrong file, not installed"
            )
        tmp.chmod(0o644)  # mkstemp creates 0600; fetched assets are ordinary readable files
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return _describe(hexdigest, accepted)


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        yield from iter(lambda: f.read(_CHUNK), b"")


def _present(dest: Path, accepted: Mapping[str, str]) -> str | None:
    """The checksum note when ``dest`` already holds an accepted file, else None."""
    if not dest.is_file():
        return None
    digest = sha256_file(dest)
    return _describe(digest, accepted) if digest in accepted else None


def install_file(name: str, src: Path, dest: Path, accepted: Mapping[str, str]) -> FetchResult:
    """Copy ``src`` to ``dest`` unless ``dest`` already matches; verify sha256 either way.

    Raises:
        AssetError: ``src`` is missing or its sha256 is not in ``accepted``.
    """
    note = _present(dest, accepted)
    if note is not None:
        return FetchResult(name, dest, "present", note)
    if not src.is_file():
        raise AssetError(f"{src}: missing from the mirror (needed for {name})")
    return FetchResult(name, dest, "copied", stream_verified(dest, _read_chunks(src), accepted))


def url_chunks(url: str) -> Iterator[bytes]:
    """The body of ``url`` in 1 MiB chunks (``urllib``: http, https and file URLs)."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
        yield from iter(lambda: resp.read(_CHUNK), b"")


def download_model(manifest: ModelManifest, dest: Path) -> FetchResult:
    """Download a model from its manifest's upstream URLs, trying each in order.

    Raises:
        AssetError: every URL failed, or the bytes match no accepted sha256.
    """
    note = _present(dest, manifest.accepted_sha256)
    if note is not None:
        return FetchResult(manifest.name, dest, "present", note)
    failures = []
    for url in manifest.urls:
        log.info("downloading %s from %s", manifest.file, url)
        try:
            note = stream_verified(dest, url_chunks(url), manifest.accepted_sha256)
        except (urllib.error.URLError, OSError) as err:
            failures.append(f"{url}: {err}")
            continue
        return FetchResult(manifest.name, dest, "downloaded", note)
    raise AssetError(
        f"{manifest.file}: could not download ({'; '.join(failures) or 'no URL'}); "
        f"{NO_INTERNET_HINT}"
    )


def fetchable_models(models_dir: Path) -> dict[str, ModelManifest]:
    """Manifests in ``models_dir`` whose weights are fetched (derived INT8 builds are not).

    Raises:
        ModelError: a manifest is invalid.
    """
    manifests = (load_manifest(p) for p in sorted(models_dir.glob("*.json")))
    return {m.name: m for m in manifests if m.source is None}


def fetch_models(
    models_dir: Path, mirror: Path | None, names: Iterable[str] = ()
) -> list[FetchResult]:
    """Put each model's source weights into ``models_dir``, from ``mirror/models`` or upstream.

    Args:
        models_dir: holds the committed manifests; the weights land beside them.
        mirror: asset mirror root (with ``models/``), or None to download from upstream.
        names: model names to fetch; all fetchable models when empty.

    Raises:
        AssetError: unknown name, missing source file or sha256 mismatch, naming the file.
    """
    known = fetchable_models(models_dir)
    wanted = list(names) or sorted(known)
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise AssetError(f"unknown model(s) {unknown}; known: {sorted(known)}")
    results = []
    for name in wanted:
        m = known[name]
        dest = models_dir / m.file
        if mirror is None:
            results.append(download_model(m, dest))
        else:
            results.append(install_file(name, mirror / "models" / m.file, dest, m.accepted_sha256))
    return results

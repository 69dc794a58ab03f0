"""``edge-counter assets fetch``: copy or download model weights and test clips, sha256-checked."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from edge.errors import AssetError
from edge.tools.assets import (
    FetchResult,
    fetch_clips,
    fetch_models,
    fetchable_models,
    load_clip_index,
)

MIRROR_ENV = "EDGE_COUNTER_MIRROR"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``assets fetch`` and its options."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    fetch = sub.add_parser("fetch", help="fetch models and clips, verifying sha256")
    fetch.add_argument("names", nargs="*", help="model or clip names (default: all)")
    fetch.add_argument(
        "--mirror",
        type=Path,
        default=None,
        help=f"asset mirror with models/ and videos/ (default: ${MIRROR_ENV}; without one, "
        "models are downloaded upstream and clips cannot be fetched)",
    )
    fetch.add_argument("--models-dir", type=Path, default=Path("models"))
    fetch.add_argument("--data-dir", type=Path, default=Path("data"))
    fetch.add_argument("--only", choices=("models", "clips"), default=None)


def _split_names(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """Partition requested names into models and clips; unknown names are an error."""
    if not args.names:
        return [], []
    models = set(fetchable_models(args.models_dir)) if args.only != "clips" else set()
    clips = set(load_clip_index(args.data_dir)) if args.only != "models" else set()
    unknown = [n for n in args.names if n not in models | clips]
    if unknown:
        raise AssetError(
            f"unknown asset name(s) {unknown}; models: {sorted(models)}, clips: {sorted(clips)}"
        )
    return [n for n in args.names if n in models], [n for n in args.names if n in clips]


def _report(results: list[FetchResult]) -> None:
    for r in results:
        print(f"{r.action:10s} {r.path}  {r.checksum}")


def run(args: argparse.Namespace) -> int:
    """Fetch the requested assets; every file's sha256 is verified.

    Raises:
        AssetError: unknown name, missing source, sha256 mismatch, or clips without a mirror.
    """
    env_mirror = os.environ.get(MIRROR_ENV)
    mirror: Path | None = args.mirror or (Path(env_mirror) if env_mirror else None)
    if mirror is not None and not mirror.is_dir():
        raise AssetError(f"{mirror}: mirror directory does not exist")
    model_names, clip_names = _split_names(args)
    do_models = args.only != "clips" and (not args.names or model_names)
    do_clips = args.only != "models" and (not args.names or clip_names)
    if do_models:
        _report(fetch_models(args.models_dir, mirror, model_names))
    if do_clips:
        _report(fetch_clips(args.data_dir, mirror, clip_names))
    return 0

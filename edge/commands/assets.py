"""``edge-counter assets fetch``: put model weights and sample clips in place, sha256-checked."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from edge.config import OnnxDetectorConfig, default_data_dir, default_models_dir
from edge.errors import AssetError
from edge.tools.assets import FetchResult, fetch_models, fetchable_models
from edge.tools.clips import fetch_clips, load_clip_index

MIRROR_ENV = "EDGE_COUNTER_MIRROR"
DEMO_CLIP = "road_cctv_vehicles"
#: What each command needs: (models, clips); None = every one of them.
PROFILES: dict[str, tuple[list[str] | None, list[str] | None]] = {
    "demo": ([OnnxDetectorConfig().model], [DEMO_CLIP]),
    "replay": ([OnnxDetectorConfig().model], []),
    "all": (None, None),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``assets fetch`` and its options."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    fetch = sub.add_parser(
        "fetch",
        help="fetch models and clips, verifying sha256",
        description="Copy model weights and sample clips from a mirror folder, or download "
        "them from their public upstream, and check every file's sha256.",
    )
    fetch.add_argument("names", nargs="*", help="model or clip names (default: see --for)")
    fetch.add_argument(
        "--for",
        dest="profile",
        choices=sorted(PROFILES),
        default=None,
        help="only what this command needs: demo = the default model and the sample clip, "
        "replay = the default model, all = everything the tests use (the default)",
    )
    fetch.add_argument(
        "--mirror",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"folder with models/ and videos/<clip>/ to copy from, used first (default: "
        f"${MIRROR_ENV}); without it, files are downloaded from their upstream",
    )
    fetch.add_argument(
        "--models-dir", type=Path, metavar="DIR", help="default: $EDGE_COUNTER_MODELS or models/"
    )
    fetch.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="default: $EDGE_COUNTER_DATA or data/"
    )
    fetch.add_argument("--only", choices=("models", "clips"), help="only this kind of asset")


def _split_names(args: argparse.Namespace) -> tuple[list[str] | None, list[str] | None]:
    """Models and clips to fetch (None: all of that kind; []: none of that kind).

    Raises:
        AssetError: a name is neither a model nor a clip.
    """
    if args.names and args.profile:
        raise AssetError("give names or --for, not both")
    if not args.names:
        models, clips = PROFILES[args.profile or "all"]
    else:
        known_models = set(fetchable_models(args.models_dir))
        known_clips = set(load_clip_index(args.data_dir))
        unknown = [n for n in args.names if n not in known_models | known_clips]
        if unknown:
            raise AssetError(
                f"unknown asset name(s) {unknown}; models: {sorted(known_models)}, "
                f"clips: {sorted(known_clips)}"
            )
        models = [n for n in args.names if n in known_models]
        clips = [n for n in args.names if n in known_clips]
    return ([] if args.only == "clips" else models), ([] if args.only == "models" else clips)


def _report(results: list[FetchResult]) -> None:
    for r in results:
        print(f"{r.action:10s} {r.path}  {r.checksum}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Fetch the requested assets; every file's sha256 is verified.

    Raises:
        AssetError: unknown name, missing source, failed download, sha256 mismatch, or a clip
            that only a mirror has and no mirror.
    """
    args.models_dir = args.models_dir or default_models_dir()
    args.data_dir = args.data_dir or default_data_dir()
    env_mirror = os.environ.get(MIRROR_ENV)
    mirror: Path | None = args.mirror or (Path(env_mirror) if env_mirror else None)
    if mirror is not None and not mirror.is_dir():
        raise AssetError(f"{mirror}: mirror directory does not exist")
    models, clips = _split_names(args)
    if models != []:
        _report(fetch_models(args.models_dir, mirror, models or ()))
    if clips != []:
        _report(fetch_clips(args.data_dir, mirror, clips or ()))
    return 0

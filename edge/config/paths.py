"""Where models, clips and the asset mirror are: environment first, then the checkout."""

from __future__ import annotations

import os
from pathlib import Path


def default_models_dir() -> Path:
    """Where model manifests and weights live: ``$EDGE_COUNTER_MODELS``, else ``models/``
    beside the source checkout, else ``./models``."""
    env = os.environ.get("EDGE_COUNTER_MODELS")
    if env:
        return Path(env)
    beside_source = Path(__file__).resolve().parents[2] / "models"
    return beside_source if beside_source.is_dir() else Path("models")


def default_data_dir() -> Path:
    """Where sample clips live: ``$EDGE_COUNTER_DATA``, else ``data/`` beside the checkout."""
    env = os.environ.get("EDGE_COUNTER_DATA")
    if env:
        return Path(env)
    beside_source = Path(__file__).resolve().parents[2] / "data"
    return beside_source if beside_source.is_dir() else Path("data")


def mirror_dir() -> Path | None:
    """The asset mirror named by ``$EDGE_COUNTER_MIRROR``, if any."""
    env = os.environ.get("EDGE_COUNTER_MIRROR")
    return Path(env) if env else None

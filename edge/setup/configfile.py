"""The setup page's config file: what the page edits, validated as ``check-config`` does,
written with a backup of the previous file.

The page edits three things: ``[[lines]]``, ``[[zones]]`` and ``detector.roi_xyxy``;
``edge-counter model choose`` edits ``detector.model`` (``ConfigFile.save_model``). Every
other key of the file is kept as it was read (comments are not: the backup keeps them).
Writing uses ``edge.setup.tomlwrite`` (the config's subset of TOML); the written file is
read back with ``edge.config.load_config`` before it replaces the old one, so what is saved
always passes ``edge-counter check-config``.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge.config import (
    AppConfig,
    SourceConfig,
    check_lines_inside,
    check_zones_inside,
    format_validation_error,
    load_config,
    read_toml,
)
from edge.errors import ConfigError
from edge.setup import tomlwrite

#: Header written at the top of a saved file.
_HEADER = "# Written by `{by}` on {when}{backup}.\n"


@dataclass(frozen=True)
class Problem:
    """One reason a save was refused.

    Attributes:
        path: dotted path of the offending field (``lines.0.name``, ``lines.road.a``), or
            ``<root>`` for the whole config.
        message: what is wrong, for a person.
        section: ``lines``, ``zones``, ``detector`` or "" (the page puts the message there).
        index: position of the offending line or zone in its section, None if not one.
    """

    path: str
    message: str
    section: str = ""
    index: int | None = None

    def to_json(self) -> dict[str, object]:
        """The form the page reads."""
        return {"path": self.path, "message": self.message, "section": self.section,
                "index": self.index}  # fmt: skip


class SaveRefused(Exception):
    """The edited config is invalid; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Saved:
    """A successful save: the new config, and where the previous file went (None: new file)."""

    config: AppConfig
    backup: Path | None


def _drop_none(value: Any) -> Any:
    """TOML has no null: drop keys whose value is None, recursively."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _problems_from(err: ValidationError) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        section = loc[0] if loc and loc[0] in ("lines", "zones", "detector") else ""
        index = int(loc[1]) if section in ("lines", "zones") and len(loc) > 1 and loc[1].isdigit() \
            else None  # fmt: skip
        message = e["msg"]
        if e["type"] == "string_pattern_mismatch" and loc[-1] in ("name", "direction"):
            message = "use 1 to 64 letters, digits, '_', '.' or '-' (no spaces)"
        out.append(Problem(".".join(loc) or "<root>", message, section, index))
    return out


def _outside(cfg: AppConfig, width: int, height: int) -> list[Problem]:
    """Lines, zones and the region of interest outside the picture (as ``app.build`` checks)."""
    problems = []
    for section, items, check in (("lines", cfg.lines, check_lines_inside),
                                  ("zones", cfg.zones, check_zones_inside)):  # fmt: skip
        for i, item in enumerate(items):
            try:
                check((item,), width, height)  # type: ignore[arg-type]
            except ConfigError as err:
                path, _, message = str(err).partition(": ")
                problems.append(Problem(path, message, section, i))
    roi = getattr(cfg.detector, "roi_xyxy", None)
    if roi is not None and (min(roi[0], roi[1]) < 0 or roi[2] > width or roi[3] > height):
        text = f"region {list(roi)} lies outside the {width}x{height} frame"
        problems.append(Problem("detector.roi_xyxy", text, "detector"))
    return problems


class ConfigFile:
    """The device TOML the page edits.

    Args:
        path: the file (absent: it is created on the first save).
        first_source: the ``[source]`` to write when the file has none (from ``--source``).

    Raises:
        ConfigError: the file exists but cannot be read or is invalid (fix it, or move it away).
    """

    def __init__(self, path: Path, first_source: SourceConfig | None) -> None:
        self.path = path
        self._first_source = first_source
        self._raw: dict[str, Any] = read_toml(path) if path.exists() else {}
        self.config = load_config(path) if path.exists() else AppConfig()

    def editable(self) -> dict[str, Any]:
        """What the page edits: ``lines``, ``zones`` (as written in the file) and ``roi``."""
        detector = self._raw.get("detector", {})
        return {
            "lines": copy.deepcopy(self._raw.get("lines", [])),
            "zones": copy.deepcopy(self._raw.get("zones", [])),
            "roi": detector.get("roi_xyxy") if isinstance(detector, dict) else None,
        }

    def edited(self, lines: Any, zones: Any, roi: Any) -> dict[str, Any]:
        """The file's tree with the page's lines, zones and region of interest in it."""
        raw = copy.deepcopy(self._raw)
        if "source" not in raw and self._first_source is not None:
            raw["source"] = self._first_source.model_dump(mode="json", exclude_defaults=True)
            raw["source"]["type"] = self._first_source.type
        raw["lines"], raw["zones"] = lines, zones
        for key in ("lines", "zones"):
            if raw[key] == []:
                del raw[key]  # an empty section is the default: leave it out
        detector = raw.setdefault("detector", {})
        if isinstance(detector, dict):
            detector.pop("roi_xyxy", None)
            if roi is not None:
                detector["roi_xyxy"] = roi
            if not detector:
                del raw["detector"]
        return _drop_none(raw)  # type: ignore[no-any-return]

    def save(self, edit: dict[str, Any], size_wh: tuple[int, int]) -> Saved:
        """Validate the page's edit against a ``size_wh`` picture, back up the file, write it.

        Raises:
            SaveRefused: the edit is invalid (every problem with its dotted path).
            ConfigError: the file cannot be written.
        """
        raw = self.edited(edit.get("lines", []), edit.get("zones", []), edit.get("roi"))
        try:
            cfg = AppConfig.model_validate(raw)
        except ValidationError as err:
            raise SaveRefused(_problems_from(err)) from None
        problems = _outside(cfg, *size_wh)
        if problems:
            raise SaveRefused(problems)
        backup = self._write(raw)
        self._raw, self.config = raw, load_config(self.path)
        return Saved(self.config, backup)

    def save_model(self, model: str, by: str) -> Saved:
        """Set ``detector.model`` (an ONNX detector's), keep everything else, back up, write.

        Args:
            model: the model name to configure.
            by: the command named in the file's header (``edge-counter model choose``).

        Raises:
            ConfigError: the detector is not an ONNX one, the result is invalid (naming the
                field), or the file cannot be written.
        """
        raw = copy.deepcopy(self._raw)
        detector = raw.setdefault("detector", {})
        if not isinstance(detector, dict) or detector.get("type", "onnx") != "onnx":
            raise ConfigError(f"{self.path}: detector is not an ONNX model: no model to set")
        detector["model"] = model
        try:
            AppConfig.model_validate(raw)
        except ValidationError as err:
            raise ConfigError(format_validation_error(err, str(self.path))) from None
        backup = self._write(raw, by)
        self._raw, self.config = raw, load_config(self.path)
        return Saved(self.config, backup)

    def _write(self, raw: dict[str, Any], by: str = "edge-counter setup") -> Path | None:
        """Write atomically (a temporary file read back, then renamed over the old one)."""
        backup = self._backup_path() if self.path.exists() else None
        when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        text = _HEADER.format(
            by=by, when=when, backup=f"; the previous file is {backup.name}" if backup else ""
        )
        text += tomlwrite.dumps(raw)
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        except OSError as err:
            raise ConfigError(f"{self.path}: cannot write config: {err.strerror}") from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            load_config(tmp)  # what check-config will say of it
            if backup is not None:
                shutil.copy2(self.path, backup)
                shutil.copymode(self.path, tmp)
            else:
                tmp.chmod(0o644)
            tmp.replace(self.path)
        except OSError as err:
            raise ConfigError(f"{self.path}: cannot write config: {err.strerror}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return backup

    def _backup_path(self) -> Path:
        """``FILE.bak-YYYYmmdd-HHMMSS`` (``-N`` appended if saved twice in a second)."""
        stem = f"{self.path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}"
        candidate, n = self.path.with_name(stem), 1
        while candidate.exists():
            candidate, n = self.path.with_name(f"{stem}-{n}"), n + 1
        return candidate

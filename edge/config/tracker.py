"""Configuration of the tracker."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge.config.base import _Strict

#: Longest ``max_lost_s``: stages that keep per-track state (the line counter, the zones)
#: hold it longer than this after a track was last seen, so an id the tracker still holds
#: never finds its counting state forgotten. Longer occlusions are not worth bridging anyway:
#: the widening gate would hand the id to another object.
MAX_LOST_LIMIT_S = 2.5


class TrackerConfig(_Strict):
    """ByteTrack-style tracker; every time threshold is in seconds, not frames.

    ``high_score``/``low_score`` split detections into the confident first pass and the weak
    second pass (weak detections only extend tracks, never start them); ``new_track_score``
    starts tentative tracks (higher: fewer ghost tracks, later starts). The defaults suit small
    edge detectors, whose true objects often score 0.2-0.45; the detector's ``score_threshold``
    must not exceed ``low_score`` or the second pass sees nothing. ``match_iou`` is the
    overlap that allows a match on its own; non-overlapping matches go through the Kalman distance
    gate. A track is reported once its detections span ``min_confirm_s`` (higher: fewer blips,
    but motion before confirmation is not seen by the counter; 0 reports a track from its first
    detection, which a lone false box cannot abuse, since a crossing needs two observations on
    opposite sides, and which keeps crossings when a car moves far between detections).
    ``max_lost_s`` keeps a confirmed track through occlusions (longer: fewer id switches, more
    risk of a wrong revival; at most ``MAX_LOST_LIMIT_S``);
    ``max_tentative_lost_s`` does the same for unconfirmed tracks (cover one missed detection at
    the lowest detection rate). Identity is the tracker's alone: the counters never hand one
    id's state to another, so an occlusion the tracker does not bridge makes a new object.
    ``max_tracks`` caps memory whatever the scene does.
    ``optical_flow`` looks at the images: each track's box is moved by sparse Lucas-Kanade flow
    since the previous processed frame (a position measurement for the Kalman filter) and a small
    appearance thumbnail gates and weights the matches. It keeps ids where motion alone is
    ambiguous (dense traffic at low detection rates, crowds); it costs a few ms per frame.
    ``type`` names the tracker plug-in (``edge.track.build_tracker``).
    """

    type: Literal["bytetrack"] = "bytetrack"

    high_score: float = Field(0.25, gt=0, lt=1)
    low_score: float = Field(0.1, gt=0, lt=1)
    new_track_score: float = Field(0.3, gt=0, lt=1)
    match_iou: float = Field(0.2, gt=0, lt=1)
    min_confirm_s: float = Field(0.0, ge=0)
    max_lost_s: float = Field(1.0, gt=0, le=MAX_LOST_LIMIT_S)
    max_tentative_lost_s: float = Field(0.4, gt=0, le=MAX_LOST_LIMIT_S)
    max_tracks: int = Field(256, ge=1, le=10_000)
    optical_flow: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> TrackerConfig:
        if self.low_score > self.high_score:
            raise ValueError("low_score must not exceed high_score")
        return self

    @property
    def id_hold_s(self) -> float:
        """Longest time an id can go unseen and still come back (lost tracks of either kind)."""
        return max(self.max_lost_s, self.max_tentative_lost_s)

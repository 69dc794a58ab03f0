"""Tracking stage helper: a constant-velocity Kalman filter on box centre and size, time in seconds.

State ``(cx, cy, w, h, vcx, vcy, vw, vh)`` in frame pixels and pixels per second. Noise scales with
the box size (a far car jitters fewer pixels than a near one) and with the elapsed time, so a
skipped frame or a slower detector only widens the prediction, it does not change the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.geometry import F64

#: Detection noise, as a fraction of the box size (std of centre and of w/h).
_MEAS_POS = 0.05
_MEAS_SIZE = 0.08
#: Unknown initial speed of a new track, in box sizes per second (std): loose, so that the
#: second detection of a fast object a box length away is still inside the gate.
_INIT_SPEED = 5.0
#: Speed uncertainty left when neighbouring tracks suggest the speed, box sizes per second.
_PRIOR_SPEED = 1.0
#: Random acceleration, in box sizes per second² (std), for position and for size.
_ACCEL_POS = 2.0
_ACCEL_SIZE = 0.5


def box_to_z(xyxy: F64) -> F64:
    """(x1, y1, x2, y2) → measurement (cx, cy, w, h)."""
    return np.array(
        [(xyxy[0] + xyxy[2]) / 2, (xyxy[1] + xyxy[3]) / 2, xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]]
    )


def z_to_box(z: F64) -> F64:
    """(cx, cy, w, h) → (x1, y1, x2, y2), with w and h at least one pixel."""
    w, h = max(float(z[2]), 1.0), max(float(z[3]), 1.0)
    return np.array([z[0] - w / 2, z[1] - h / 2, z[0] + w / 2, z[1] + h / 2])


def _scale(x: F64) -> float:
    return max(float(x[2] + x[3]) / 2, 4.0)


@dataclass(slots=True)
class BoxKalman:
    """Filter state of one track.

    Attributes:
        x: state vector, shape (8,).
        p: covariance, shape (8, 8).
    """

    x: F64
    p: F64

    @staticmethod
    def start(xyxy: F64, velocity: F64 | None = None) -> BoxKalman:
        """A filter at the box with a speed prior.

        Args:
            xyxy: first detected box.
            velocity: prior centre velocity in pixels/s (from neighbouring tracks), or None for
                "at rest, speed unknown" (a loose prior).
        """
        z = box_to_z(xyxy)
        s = _scale(z)
        speed_std = _INIT_SPEED if velocity is None else _PRIOR_SPEED
        std = [2 * _MEAS_POS * s] * 2 + [2 * _MEAS_SIZE * s] * 2
        std += [speed_std * s] * 2 + [0.5 * _INIT_SPEED * s] * 2
        v = np.zeros(4)
        if velocity is not None:
            v[:2] = velocity
        return BoxKalman(np.concatenate([z, v]), np.diag(np.square(std)))

    def predict(self, dt_s: float) -> None:
        """Advance the state by ``dt_s`` seconds (no-op for dt ≤ 0)."""
        predict_many([self], np.array([dt_s]))

    def _r(self) -> F64:
        s = _scale(self.x)
        return np.diag(np.square([_MEAS_POS * s] * 2 + [_MEAS_SIZE * s] * 2))

    def center_cov(self) -> F64:
        """2×2 covariance of the predicted centre as a detection would see it (pixels²)."""
        cov = self.p[:2, :2].copy()
        cov[[0, 1], [0, 1]] += (_MEAS_POS * _scale(self.x)) ** 2
        return cov

    def update(self, xyxy: F64) -> None:
        """Correct the state with a detected box."""
        self._correct(box_to_z(xyxy), self._r())

    def update_center(self, center: F64, std_frac: float) -> None:
        """Correct the state with a measured centre only (e.g. from optical flow).

        Args:
            center: (cx, cy) in frame pixels.
            std_frac: the measurement's standard deviation as a fraction of the box size.
        """
        std = std_frac * _scale(self.x)
        self._correct(np.asarray(center, np.float64), np.eye(2) * std * std)

    def _correct(self, z: F64, r: F64) -> None:
        """Kalman correction with the first ``len(z)`` state entries measured, noise ``r``."""
        k = len(z)
        s_cov = self.p[:k, :k] + r
        gain = np.linalg.solve(s_cov, self.p[:k, :]).T  # P Hᵀ S⁻¹, S symmetric
        self.x = self.x + gain @ (z - self.x[:k])
        self.p = self.p - gain @ self.p[:k, :]
        self.p = (self.p + self.p.T) / 2

    @property
    def box(self) -> F64:
        """Current estimate as (x1, y1, x2, y2)."""
        return z_to_box(self.x[:4])


def predict_many(filters: list[BoxKalman], dts_s: F64) -> None:
    """Advance many filters at once, each by its own ``dt`` in seconds (≤ 0: unchanged).

    One batched computation instead of a small matrix product per track keeps a crowded
    scene cheap on a Raspberry Pi.
    """
    if not filters:
        return
    dt = np.maximum(np.asarray(dts_s, np.float64), 0.0)[:, None]
    x = np.stack([f.x for f in filters])
    p = np.stack([f.p for f in filters])
    scale = np.maximum((x[:, 2] + x[:, 3]) / 2, 4.0)[:, None]
    q_acc = np.square(scale * np.array([_ACCEL_POS] * 2 + [_ACCEL_SIZE] * 2))
    pos, vel = slice(0, 4), slice(4, 8)
    x[:, pos] += dt * x[:, vel]
    # F P Fᵀ with F = [[I, dt I], [0, I]], block by block.
    d3 = dt[:, :, None]
    p_pv = p[:, pos, vel] + d3 * p[:, vel, vel]
    p[:, pos, pos] += d3 * (p[:, vel, pos] + p[:, pos, vel]) + d3**2 * p[:, vel, vel]
    p[:, pos, vel] = p_pv
    p[:, vel, pos] = np.transpose(p_pv, (0, 2, 1))
    idx = np.arange(4)
    p[:, idx, idx] += q_acc * dt**3 / 3
    p[:, idx, idx + 4] += q_acc * dt**2 / 2
    p[:, idx + 4, idx] += q_acc * dt**2 / 2
    p[:, idx + 4, idx + 4] += q_acc * dt
    for f, xi, pi in zip(filters, x, p, strict=True):
        f.x, f.p = xi, pi

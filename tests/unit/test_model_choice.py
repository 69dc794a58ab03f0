"""``model choose``'s rule, table-driven: the disagreement, the tolerance and the decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.errors import ConfigError
from edge.setup.configfile import ConfigFile
from edge.tools.model.choice import decide
from edge.tools.model.choose import Counts, Timing, allowed, disagreement

FP32: Counts = {("road", "in", "vehicle"): 12, ("road", "out", "vehicle"): 7,
                ("walk", "in", "pedestrian"): 1}  # fmt: skip


@pytest.mark.parametrize(
    ("counts", "share"),
    [
        (FP32, 0.0),
        ({("road", "in", "vehicle"): 13, ("road", "out", "vehicle"): 6,
          ("walk", "in", "pedestrian"): 1}, 2 / 20),  # one more in, one fewer out: both count
        ({("road", "in", "vehicle"): 12, ("road", "out", "vehicle"): 7}, 1 / 20),
        ({("road", "in", "vehicle"): 12, ("road", "out", "vehicle"): 7,
          ("walk", "in", "pedestrian"): 1, ("walk", "out", "pedestrian"): 3}, 3 / 20),
        ({}, 1.0),
    ],
)  # fmt: skip
def test_disagreement_is_the_sum_of_differences_per_cell_over_fp32s_total(
    counts: Counts, share: float
) -> None:
    assert disagreement(counts, FP32) == pytest.approx(share)


def test_disagreement_with_no_fp32_crossing_counts_each_crossing_whole() -> None:
    assert disagreement({}, {}) == 0.0
    assert disagreement({("road", "in", "vehicle"): 2}, {}) == 2.0


@pytest.mark.parametrize(
    ("tolerance", "total", "limit"),
    [(None, 100, 0.05), (None, 20, 0.05), (None, 10, 0.1), (None, 0, 1.0), (0.0, 10, 0.0),
     (0.2, 100, 0.2)],
)  # fmt: skip
def test_the_default_tolerance_is_five_percent_or_one_crossing(
    tolerance: float | None, total: int, limit: float
) -> None:
    assert allowed(tolerance, total) == pytest.approx(limit)


def timings(**p50: float) -> dict[str, Timing]:
    return {name.replace("_", "-"): Timing(ms, ms * 1.1, 50) for name, ms in p50.items()}


def off_by(n: int) -> Counts:
    return {**FP32, ("road", "in", "vehicle"): 12 + n}


def test_the_fastest_that_agrees_is_chosen_the_others_say_why_not() -> None:
    t = timings(fp32=100.0, int8=60.0, rect=70.0, slow=95.0)
    counts = {"fp32": FP32, "int8": off_by(5), "rect": off_by(1), "slow": FP32}
    chosen, rows = decide("fp32", "fp32", t, counts, 0.05)
    assert chosen == "rect"
    verdicts = {r.model: r.verdict for r in rows}
    assert verdicts == {"fp32": "FP32 reference", "int8": "refused: 25.0% > 5.0%",
                        "rect": "chosen", "slow": "agrees, not chosen"}  # fmt: skip
    assert [r.crossings for r in rows] == [20, 25, 21, 20]


def test_the_current_model_stays_unless_another_is_five_percent_faster() -> None:
    counts = {"fp32": FP32, "rect": FP32, "int8": FP32}
    assert decide("rect", "fp32", timings(fp32=100.0, rect=70.0, int8=67.0), counts, 0.05)[0] \
        == "rect"  # fmt: skip
    assert decide("rect", "fp32", timings(fp32=100.0, rect=70.0, int8=66.0), counts, 0.05)[0] \
        == "int8"  # fmt: skip
    chosen, rows = decide("fp32", "fp32", timings(fp32=100.0, rect=97.0), counts, 0.05)
    assert chosen == "fp32" and rows[0].verdict == "chosen (FP32 reference)"


def test_a_refused_current_model_is_left_even_for_a_slower_one() -> None:
    counts = {"fp32": FP32, "int8": off_by(8)}
    assert decide("int8", "fp32", timings(fp32=100.0, int8=50.0), counts, 0.05)[0] == "fp32"


def test_save_model_refuses_a_scripted_detector(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[detector]\ntype = "scripted"\npath = "{tmp_path / "d.jsonl"}"\n')
    with pytest.raises(ConfigError, match="detector is not an ONNX model"):
        ConfigFile(path, None).save_model("yolox-nano", "edge-counter model choose")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]

"""A run's result let go of its record once written still says what the run's summary says."""

from __future__ import annotations

from pathlib import Path

from replisim.scenarios.runner import released, run_scenario, write_run
from replisim.scenarios.schema import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_a_released_result_keeps_the_summary_and_drops_the_record(tmp_path: Path) -> None:
    result = run_scenario(load_scenario(SCENARIOS / "primary-dies-async.yaml"))
    write_run(result, tmp_path)
    slim = released(result)
    assert slim.summary() == result.summary()
    assert slim.status == result.status
    assert slim.record.history.ops == [] and slim.record.volumes == [] and slim.samples == []
    assert result.record.history.ops  # the original is untouched

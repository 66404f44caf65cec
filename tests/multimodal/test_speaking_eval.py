"""The speaking benchmark on the committed speech fixture (one clip, five renderings)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from multimodal.research.speaking_eval import EXPECTED, benchmark_speaking

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.slow
def test_delivery_features_move_with_the_rendering(tmp_path):
    shutil.copy(FIXTURES / "speech_water_cycle.wav", tmp_path / "u1.wav")
    (tmp_path / "transcripts.tsv").write_text("u1\tTHE SUN HEATS THE OCEAN WATER THEN CLOUDS FORM AND RAIN FALLS\n")
    result = benchmark_speaking(tmp_path, limit=1)
    assert set(result["summary"]) == set(EXPECTED)
    clip = result["clips"][0]
    assert clip["slow"]["wpm"] < clip["original"]["wpm"] < clip["fast"]["wpm"]
    assert clip["paused"]["long_pauses_per_min"] > clip["original"]["long_pauses_per_min"]
    assert set(clip["original"]["levels"]) == {"Pace", "Pausing", "Clarity"}
    assert "teachers" in result["cannot_show"]

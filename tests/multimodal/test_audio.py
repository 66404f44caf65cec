"""Audio encoder: loading/validation, Whisper tiny.en transcription, fluency features.

Fixture (committed): ``tests/fixtures/speech_water_cycle.wav``, 5.2 s, 16 kHz mono,
made with ``espeak-ng -m -v en-us -s 160`` from
``The sun heats the ocean water. <break time="900ms"/> Then clouds form and rain falls.``
and resampled with ``sox -r 16000 -c 1 -b 16``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from multimodal.audio import ASRModel, encode_audio, fluency_features, load_audio
from multimodal.types import AudioFeatures, FluencyFeatures, Transcript, Word

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SPEECH = FIXTURES / "speech_water_cycle.wav"
SR = 16_000


def _tone(seconds: float, hz: float = 220.0, sr: int = SR, amp: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.fixture(scope="module")
def asr():
    from multimodal import registry

    return registry.get_asr()


@pytest.fixture(scope="module")
def speech_features(asr):
    from multimodal import registry

    return encode_audio([SPEECH], registry.get_text_encoder(), asr=asr)[0]


# -- loading ---------------------------------------------------------------------------


def test_load_audio_fixture():
    y, sr = load_audio(SPEECH)
    assert sr == SR and y.dtype == np.float32 and y.ndim == 1
    assert 5.0 < len(y) / sr < 5.5


def test_load_audio_resamples_stereo_to_16k_mono(tmp_path):
    path = tmp_path / "stereo.wav"
    tone = _tone(1.0, sr=44_100)
    sf.write(path, np.stack([tone, tone], axis=1), 44_100)
    y, sr = load_audio(path)
    assert sr == SR and y.ndim == 1
    assert len(y) == pytest.approx(SR, abs=2)


def test_load_audio_rejects_bad_input(tmp_path):
    corrupt = tmp_path / "answer.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" * 10)
    with pytest.raises(ValueError, match="not a decodable audio file"):
        load_audio(corrupt)

    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_audio(empty)

    no_samples = tmp_path / "no_samples.wav"
    sf.write(no_samples, np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(ValueError):
        load_audio(no_samples)

    short = tmp_path / "short.wav"
    sf.write(short, _tone(0.1), SR)
    with pytest.raises(ValueError, match="too short"):
        load_audio(short)

    with pytest.raises(FileNotFoundError):
        load_audio(tmp_path / "missing.wav")


def test_missing_asr_model_path_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="EDUPLATFORM_ASR_MODEL_PATH"):
        ASRModel(tmp_path / "no-model")


# -- fluency from known timings (no ASR) ------------------------------------------------------


def test_fluency_pauses_and_rates_from_known_timings():
    # Three bursts of "speech" (a 220 Hz tone) separated by 0.7 s and 1.3 s of silence.
    parts = [
        np.zeros(int(0.5 * SR)),
        _tone(1.0),
        np.zeros(int(0.7 * SR)),
        _tone(1.0),
        np.zeros(int(1.3 * SR)),
        _tone(1.0),
        np.zeros(int(0.5 * SR)),
    ]
    y = np.concatenate(parts).astype(np.float32)
    words = [
        Word("a", 0.5, 1.0, 1.0),
        Word("b", 1.0, 1.5, 1.0),
        Word("c", 2.2, 3.2, 1.0),
        Word("d", 4.5, 5.0, 1.0),
        Word("e", 5.0, 5.5, 1.0),
    ]
    transcript = Transcript("a b c d e", words, "en", len(y) / SR, 0.0)
    f = fluency_features(transcript, y, SR)

    assert f.words == 5
    assert f.pauses_ge_0_5 == 2 and f.pauses_gt_1 == 1
    assert f.speech_s == pytest.approx(3.0, abs=0.1)
    assert f.articulation_rate == pytest.approx(5 / 3.0, rel=0.05)
    assert f.wpm == pytest.approx(5 / 5.0 * 60, rel=0.05)  # span 0.5-5.5 s
    assert f.mean_length_of_run == pytest.approx(5 / 3)
    assert f.pitch_mean_hz == pytest.approx(220, rel=0.03)
    assert f.pitch_std_semitones < 0.3
    assert 0.3 < f.voiced_fraction <= 1.0
    assert f.energy_mean_db == pytest.approx(20 * np.log10(0.2 / np.sqrt(2)), abs=1.5)
    assert f.as_vector().shape == (len(FluencyFeatures.FEATURE_NAMES),)


def test_fluency_of_silence_without_words():
    y = np.zeros(SR, dtype=np.float32)
    f = fluency_features(Transcript("", [], "en", 1.0, 0.0), y, SR)
    assert f.words == 0 and f.wpm == 0 and f.articulation_rate == 0
    assert f.pitch_mean_hz == 0 and f.pauses_ge_0_5 >= 0


# -- real model ----------------------------------------------------------------------------


def test_transcribes_fixture(speech_features):
    transcript = speech_features.transcript
    words = {w.strip(".,").lower() for w in transcript.text.split()}
    for word in ["sun", "ocean", "clouds", "rain", "falls"]:
        assert word in words, (word, transcript.text)
    assert transcript.model == "whisper-tiny.en" and transcript.language == "en"
    assert len(transcript.words) >= 10
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= transcript.duration_s + 0.5 for w in transcript.words)


def test_fluency_of_fixture_in_sane_ranges(speech_features):
    f = speech_features.fluency
    assert 60 <= f.wpm <= 250
    assert 1.0 <= f.articulation_rate <= 6.0
    assert f.pauses_ge_0_5 >= 1  # the 0.9 s break between the two sentences
    assert f.pauses_gt_1 >= 0
    assert 0 < f.speech_s <= f.duration_s
    assert 60 <= f.pitch_mean_hz <= 400
    assert 0.2 <= f.voiced_fraction <= 1.0
    assert -60 < f.energy_mean_db < 0


def test_encode_audio_embeds_transcript(speech_features):
    from multimodal import registry

    assert isinstance(speech_features, AudioFeatures)
    assert speech_features.path == str(SPEECH)
    reference = registry.get_text_encoder().encode(["The sun heats the ocean water. Then clouds form and rain falls."])[
        0
    ]
    assert float(speech_features.text_embedding @ reference) > 0.8
    assert speech_features.as_vector().shape == (len(AudioFeatures.FEATURE_NAMES),)


def test_silence_transcribes_to_nothing_and_has_no_embedding(tmp_path, asr):
    from multimodal import registry

    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(2 * SR, dtype=np.float32), SR)
    feats = encode_audio([quiet], registry.get_text_encoder(), asr=asr)[0]
    assert feats.transcript.text == "" and feats.transcript.words == []
    assert feats.text_embedding is None
    assert feats.fluency.words == 0 and feats.fluency.wpm == 0


# -- hallucination guards, biasing, delivery ------------------------------------------------


@pytest.mark.parametrize(
    "name, make",
    [
        ("tone_3s", lambda: _tone(3.0, hz=440.0, amp=0.3)),
        ("silence_10s", lambda: np.zeros(10 * SR, dtype=np.float32)),
        ("white_noise_10s", lambda: (0.1 * np.random.default_rng(0).standard_normal(10 * SR)).astype(np.float32)),
    ],
)
def test_non_speech_yields_no_speech(asr, name, make, tmp_path):
    path = tmp_path / f"{name}.wav"
    sf.write(path, make(), SR)
    transcript = asr.transcribe(path)
    assert transcript.text == "" and transcript.words == []
    assert transcript.no_speech and transcript.reason in {"silence", "no_voice", "no_speech"}
    features = encode_audio([path], asr=asr)[0]
    assert features.fluency.words == 0 and features.fluency.wpm == 0.0


def test_has_signal():
    from multimodal.audio import has_signal

    assert not has_signal(np.zeros(SR, dtype=np.float32))
    assert has_signal(_tone(1.0))


def test_long_recording_is_cut_to_the_maximum(tmp_path):
    from multimodal.audio import ASRModel

    model = ASRModel(max_seconds=2.0)
    y, _ = load_audio(SPEECH)
    transcript = model.transcribe(y)
    assert transcript.truncated and transcript.duration_s > 5.0
    assert all(w.end <= 2.5 for w in transcript.words)


def test_bias_prompt_keeps_distinctive_words():
    from multimodal.audio import bias_prompt

    prompt = bias_prompt(["The water cycle: evaporation and condensation.", "Evaporation turns water into vapour."])
    words = prompt.split()
    assert words[:2] == ["water", "evaporation"]  # most frequent first
    assert "the" not in words and "and" not in words
    assert len(bias_prompt([" ".join(f"term{chr(97 + i % 26)}{i}" for i in range(100))], max_words=5).split()) == 5


def test_biased_recognition_still_reads_the_fixture(asr):
    plain = asr.transcribe(SPEECH, beam_size=1)
    biased = asr.transcribe(SPEECH, beam_size=1, vocabulary=["The sun heats the ocean water; clouds form."])
    assert not biased.no_speech and "clouds" in biased.text.lower()
    assert len(biased.text.split()) >= len(plain.text.split()) - 3


def test_delivery_criteria_bands():
    from multimodal.audio import delivery_criteria, delivery_score

    words = [Word(f"w{i}", i * 0.4, i * 0.4 + 0.3, 0.9) for i in range(50)]
    transcript = Transcript(text="x", words=words, language="en", duration_s=20.0, seconds=1.0)
    y = _tone(20.0)
    fluency = fluency_features(transcript, y, SR)
    criteria = {c["name"]: c for c in delivery_criteria(fluency, transcript)}
    assert set(criteria) == {"Pace", "Pausing", "Clarity"}
    assert criteria["Pace"]["level"] == "met" and criteria["Clarity"]["level"] == "met"
    assert delivery_score(list(criteria.values())) == pytest.approx(1.0)
    mumbled = Transcript(
        text="x", words=[Word(w.text, w.start, w.end, 0.3) for w in words], language="en", duration_s=20, seconds=1
    )
    assert {c["name"]: c["level"] for c in delivery_criteria(fluency, mumbled)}["Clarity"] == "missing"
    empty = Transcript(text="", words=[], language="en", duration_s=20, seconds=1, no_speech=True)
    assert delivery_criteria(fluency, empty) == [] and delivery_score([]) is None

"""Image encoder: loading/validation, OCR of known text, page statistics, backbone.

Fixtures (committed, generated once with Pillow 13 and Debian fonts):
``tests/fixtures/ocr_printed.png`` (DejaVu Sans 44 px) and
``tests/fixtures/ocr_handwriting_style.png`` (Comic Neue 52 px), 1100x420 grey
pages with the three lines in ``PAGE_LINES``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from multimodal.image import encode_images, image_stats, load_image
from multimodal.types import ImageFeatures, ImageStats

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PRINTED = FIXTURES / "ocr_printed.png"
HANDWRITING_STYLE = FIXTURES / "ocr_handwriting_style.png"
PAGE_LINES = [
    "Photosynthesis turns light energy",
    "into chemical energy stored in glucose.",
    "Plants release oxygen as a by-product.",
]


def _words(text: str) -> set[str]:
    return {w.strip(".,").lower() for w in text.split()}


@pytest.fixture(scope="module")
def ocr():
    from multimodal import registry

    return registry.get_ocr()


@pytest.fixture(scope="module")
def text_encoder():
    from multimodal import registry

    return registry.get_text_encoder()


# -- loading ---------------------------------------------------------------------


def test_corrupt_bytes_raise_value_error(tmp_path):
    bad = tmp_path / "answer.png"
    bad.write_bytes(b"this is not an image at all")
    with pytest.raises(ValueError, match="not a decodable image"):
        load_image(bad)
    with pytest.raises(ValueError, match="not a decodable image"):
        load_image(b"\x89PNG\r\n\x1a\n garbage")


def test_truncated_png_raises_value_error(tmp_path):
    cut = tmp_path / "cut.png"
    cut.write_bytes(PRINTED.read_bytes()[:400])
    with pytest.raises(ValueError, match="not a decodable image"):
        load_image(cut)


def test_missing_file_and_tiny_image():
    with pytest.raises(FileNotFoundError):
        load_image("/nonexistent/page.png")
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buf, format="PNG")
    with pytest.raises(ValueError, match="too small"):
        load_image(buf.getvalue())


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (300, 100), "white")
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display": a phone photo taken in portrait
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    loaded = load_image(buf.getvalue())
    assert loaded.size == (100, 300)
    assert loaded.mode == "RGB"


def test_transparent_png_becomes_white_page():
    img = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    loaded = load_image(buf.getvalue())
    assert np.asarray(loaded).min() == 255
    assert image_stats(loaded).blank


# -- statistics --------------------------------------------------------------------


def test_blank_page_detected():
    stats = image_stats(Image.new("RGB", (1240, 1754), "white"))
    assert stats.blank and not stats.readable
    assert stats.ink_coverage == 0.0

    rng = np.random.default_rng(0)  # a photographed empty sheet: grey with sensor noise
    noisy = rng.normal(225, 6, (1000, 800)).clip(0, 255).astype(np.uint8)
    assert image_stats(Image.fromarray(noisy).convert("RGB")).blank


def test_text_page_stats():
    stats = image_stats(load_image(PRINTED))
    assert (stats.width, stats.height) == (1100, 420)
    assert not stats.blank and stats.readable
    assert 0.01 < stats.ink_coverage < 0.2
    assert abs(stats.skew_deg) < 0.5
    assert stats.as_vector().shape == (len(ImageStats.FEATURE_NAMES),)


def test_blur_lowers_blur_variance_and_readability():
    page = load_image(PRINTED)
    sharp = image_stats(page)
    blurred = image_stats(page.filter(ImageFilter.GaussianBlur(6)))
    assert blurred.blur_var < sharp.blur_var / 10
    assert not blurred.readable and not blurred.blank


@pytest.mark.parametrize("angle", [6.0, -4.0])
def test_skew_estimate(angle):
    rotated = load_image(PRINTED).rotate(angle, expand=True, fillcolor="white")
    assert image_stats(rotated).skew_deg == pytest.approx(angle, abs=0.6)


# -- OCR and encoding ------------------------------------------------------------------


@pytest.mark.parametrize("path", [PRINTED, HANDWRITING_STYLE], ids=["printed", "handwriting_style"])
def test_ocr_reads_known_text(ocr, path):
    result = ocr(path)
    assert len(result.lines) == 3
    got = _words(result.text)
    for word in ["photosynthesis", "light", "chemical", "glucose", "plants", "oxygen"]:
        assert word in got, (word, result.text)
    assert result.mean_score > 0.8
    assert result.model.startswith("rapidocr-")
    assert all(len(line.box) == 4 for line in result.lines)


def test_ocr_of_blank_page_is_empty(ocr):
    result = ocr(Image.new("RGB", (600, 800), "white"))
    assert result.text == "" and result.lines == []


def test_encode_images(text_encoder, monkeypatch, tmp_path):
    monkeypatch.delenv("EDUPLATFORM_IMAGE_BACKBONE_WEIGHTS", raising=False)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), "white").save(blank)

    feats = encode_images([PRINTED, blank], text_encoder, backbone=None)
    assert [type(f) for f in feats] == [ImageFeatures, ImageFeatures]
    page, empty = feats
    assert page.path == str(PRINTED) and empty.path == str(blank)
    assert page.backbone == "absent" and page.backbone_embedding is None
    assert page.text_embedding.shape == (384,)
    reference = text_encoder.encode([" ".join(PAGE_LINES)])[0]
    assert float(page.text_embedding @ reference) > 0.9
    assert empty.text_embedding is None and empty.stats.blank
    assert page.as_vector().shape == (len(ImageFeatures.FEATURE_NAMES),)
    assert page.summary()["features"]["ocr_lines"] == 3


def test_encode_images_rejects_corrupt_file(text_encoder, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(ValueError, match="bad.jpg"):
        encode_images([PRINTED, bad], text_encoder, backbone=None)


def test_registry_backbone_absent_without_weights(monkeypatch):
    from multimodal import registry

    monkeypatch.delenv("EDUPLATFORM_IMAGE_BACKBONE_WEIGHTS", raising=False)
    registry._models.pop("image_backbone", None)
    assert registry.get_image_backbone() is None
    assert registry.loaded_models()["image_backbone"]["version"] == "absent"
    registry._models.pop("image_backbone", None)


def test_backbone_loads_only_local_weights(tmp_path):
    import torch
    from torchvision import models

    from multimodal.image import ImageBackbone

    with pytest.raises(FileNotFoundError, match="EDUPLATFORM_IMAGE_BACKBONE_WEIGHTS"):
        ImageBackbone(tmp_path / "missing.pt")

    weights = tmp_path / "resnet18.pt"  # stands in for a school's downloaded weights file
    torch.save(models.resnet18(weights=None).state_dict(), weights)
    backbone = ImageBackbone(weights, device="cpu")
    emb = backbone.embed([load_image(PRINTED)])
    assert emb.shape == (1, 512) and np.isfinite(emb).all()
    assert backbone.name == "resnet18:resnet18.pt"

    wrong = tmp_path / "wrong.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(RuntimeError):
        ImageBackbone(wrong, device="cpu")


# -- reading order, deskew, confidence, vocabulary correction ----------------------------


def _line(text: str, x0: float, y0: float, x1: float, y1: float, score: float = 0.9, slope: float = 0.0):
    from multimodal.types import OCRLine

    dy = slope * (x1 - x0)
    return OCRLine(text=text, box=[[x0, y0], [x1, y0 + dy], [x1, y1 + dy], [x0, y1]], score=score)


def test_reading_order_joins_fragments_of_a_row_and_keeps_rows_apart():
    from multimodal.image import reading_order

    # Row 1 split into two fragments whose tops differ by 14 px (more than RapidOCR's
    # 10-px rule); row 2 starts just under row 1 and is detected before row 1's tail.
    lines = [
        _line("Our London", 100, 10, 900, 80),
        _line("business is good", 950, 24, 1800, 94),
        _line("but Vienna", 100, 90, 1000, 160),
    ]
    rows = reading_order([lines[2], lines[1], lines[0]])
    assert [[ln.text for ln in row] for row in rows] == [["Our London", "business is good"], ["but Vienna"]]


def test_reading_order_follows_a_sloping_row():
    from multimodal.image import reading_order

    # A row sloping down by 0.05 (about 3 degrees): its right fragment sits 45 px lower.
    left = _line("within a short", 100, 100, 900, 160, slope=0.05)
    right = _line("time she", 950, 145, 1400, 205, slope=0.05)
    below = _line("was walking", 100, 200, 900, 260, slope=0.05)
    rows = reading_order([below, right, left])
    assert [[ln.text for ln in row] for row in rows] == [["within a short", "time she"], ["was walking"]]


def test_page_confidence_weighs_lines_by_length():
    from multimodal.image import page_confidence

    lines = [_line("a long line that was read well", 0, 0, 10, 10, 0.95), _line("x", 0, 20, 10, 30, 0.2)]
    assert page_confidence(lines) > 0.9
    assert page_confidence([]) == 0.0


def test_vocabulary_correction_fixes_misreads_only_towards_the_vocabulary():
    from multimodal.image import correct_with_vocabulary, vocabulary_from_texts

    vocab = vocabulary_from_texts(["Photosynthesis turns light energy into chemical energy stored in glucose."])
    text, fixes = correct_with_vocabulary("Photosyntesis turns light enengy into chemcal energy in glucse", vocab)
    assert text == "Photosynthesis turns light energy into chemical energy in glucose"
    assert ("Photosyntesis", "Photosynthesis") in fixes and len(fixes) == 4
    # English words and short words are left alone, even when a vocabulary word is close
    assert correct_with_vocabulary("the son shone", vocabulary_from_texts(["the sun shone"]))[0] == "the son shone"
    # two fragments whose join is a vocabulary word are joined
    assert correct_with_vocabulary("yellow road bed", vocabulary_from_texts(["yellow roadbed"]))[0] == "yellow roadbed"
    # a tie between two vocabulary words is not guessed
    assert correct_with_vocabulary("bxt", vocabulary_from_texts(["bat but"]))[0] == "bxt"
    assert correct_with_vocabulary("anything", frozenset()) == ("anything", [])


@pytest.mark.slow
def test_ocr_keeps_lines_boxes_and_confidence(ocr):
    result = ocr(PRINTED)
    assert len(result.lines) == 3
    assert all(len(line.box) == 4 and 0.5 <= line.score <= 1.0 for line in result.lines)
    assert result.text.splitlines() == [line.text for line in result.lines]  # one row per line, in order
    assert 0.8 < result.confidence <= 1.0 and not result.low_confidence


@pytest.mark.slow
def test_ocr_with_vocabulary_keeps_raw_text(ocr):
    vocab = ["Photosynthesis turns light energy", "into chemical energy stored in glucose."]
    result = ocr(HANDWRITING_STYLE, vocabulary=vocab)
    assert result.raw_text  # what the recogniser read, before correction
    assert all(w in result.raw_text for w, _ in result.corrections)
    assert _words(PAGE_LINES[0]) <= _words(result.text)


@pytest.mark.slow
def test_a_rotated_page_is_straightened_and_read(ocr):
    page = load_image(PRINTED)
    tilted = page.rotate(6, expand=True, fillcolor="white")
    features = encode_images([tilted], ocr=ocr)[0]
    assert features.ocr.deskew_deg == pytest.approx(-6, abs=1.0)
    assert _words(PAGE_LINES[0]) <= _words(features.ocr.text)


@pytest.mark.slow
def test_encode_images_reads_a_batch_in_input_order(ocr):
    blank = Image.new("RGB", (600, 400), "white")
    feats = encode_images([PRINTED, blank, HANDWRITING_STYLE], ocr=ocr, batch_pixels=600 * 400 + 1)
    assert feats[1].ocr.text == "" and feats[1].stats.blank
    assert _words(PAGE_LINES[2]) <= _words(feats[0].ocr.text)
    assert "glucose" in feats[2].ocr.text.lower()

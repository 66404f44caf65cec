"""OCR metrics (CER/WER with the OCR normaliser) and the OCR benchmark on a generated folder."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

from multimodal.metrics import char_error_rate, normalize_ocr_text, word_error_rate
from multimodal.research.ocr_eval import benchmark_ocr, read_labels


def test_ocr_normaliser_ignores_case_spacing_and_punctuation():
    assert normalize_ocr_text("  Mr. D. Lloyd,  has gone!\n") == "mr d lloyd has gone"
    assert normalize_ocr_text("1496 Zermott St.") == "1496 zermott st"


def test_cer_and_wer_are_corpus_level():
    assert char_error_rate("Our London", "our  london.") == 0.0
    assert char_error_rate(["abcd", "ef"], ["abxd", "ef"]) == pytest.approx(1 / 6)  # 1 edit over 6 characters
    assert word_error_rate("the sun shone", "the son shone", normalize=normalize_ocr_text) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        char_error_rate([""], ["x"])
    with pytest.raises(ValueError):
        char_error_rate(["a"], ["a", "b"])


def test_read_labels_checks_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_labels(tmp_path)
    (tmp_path / "labels.csv").write_text("file,label\na.png,x\n")
    with pytest.raises(ValueError, match="image and text"):
        read_labels(tmp_path)


@pytest.mark.slow
def test_benchmark_ocr_on_generated_pages(tmp_path):
    lines = ["The water cycle moves water", "between the sea and the sky."]
    rows = ["image,text"]
    for k in range(2):
        img = Image.new("RGB", (1000, 260), "white")
        draw = ImageDraw.Draw(img)
        font = ImageFont.load_default(size=44)
        for j, line in enumerate(lines):
            draw.text((40, 40 + 90 * j), line, fill="black", font=font)
        img.save(tmp_path / f"p{k}.png")
        rows.append(f'p{k}.png,"{" ".join(lines)}"')
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    result = benchmark_ocr(tmp_path, vocabulary="label", batch_size=2)
    assert result["n"] == 2 and result["cer"] < 0.1 and result["wer"] < 0.3
    assert result["seconds_per_image"] > 0 and result["vocabulary"] == "label"
    assert result["per_image"][0]["lines"] == 2

"""Image encoder: load/validate, OCR (rapidocr), page statistics, optional backbone.

Why this shape: photographed homework is mostly text, so the signal is the OCR
text (embedded with MiniLM) plus a few statistics that tell whether the page can
be graded at all (blank, blurred, skewed). A torchvision backbone adds a visual
embedding only when a school configures local weights; without them the result
says ``backbone="absent"`` instead of embedding with random weights.
"""

from __future__ import annotations

import io
import math
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from multimodal.types import ImageFeatures, ImageStats, OCRLine, OCRResult

if TYPE_CHECKING:
    from multimodal.text import TextEncoder

ImageInput = str | Path | bytes | Image.Image

MAX_PIXELS = 50_000_000  # larger uploads are refused, not decoded (decompression bombs)
MIN_SIDE = 16
STATS_MAX_SIDE = 1024  # statistics are computed on a copy no larger than this
BLANK_INK_COVERAGE = 0.001  # less ink than this (0.1 % of pixels) is a blank page
#: Laplacian variance (contrast-normalised page, long side <= 1024 px) below which
#: text is too blurred to read. Calibrated on 44-52 px printed and Comic Neue text:
#: a 4 px Gaussian blur scores ~70 and still OCRs cleanly; at 5 px it scores ~35
#: and OCR starts dropping letters, at 6-8 px whole lines.
BLUR_VAR_MIN = 40.0
SKEW_MAX_DEG = 20.0

#: RapidOCR settings, measured on the shared handwriting sets (see the README):
#: - its default angle classifier turns correctly oriented handwritten lines upside
#:   down (CSAFE pages: CER 0.135 with it, 0.069-0.075 without), so it is off; pages
#:   are straightened by ``deskew`` instead;
#: - the default detector resizes so the *short* side is >= 736 px (4-8 s/image on 2
#:   cores); capping the *long* side keeps it near 1 s a page.
OCR_PARAMS: dict[str, Any] = {
    "Global.use_cls": False,
    "Det.limit_type": "max",
    "Det.limit_side_len": 960,
    "Global.log_level": "warning",
}
TEXT_SCORE = 0.5  # lines the recogniser scores below this are dropped (RapidOCR's default)
#: A page whose character-weighted line confidence is below this goes to review
#: (``low_ocr_confidence``). Calibrated on CSAFE/IAM: see ``multimodal/research/ocr_eval.py``.
LOW_CONFIDENCE = 0.85
OCR_BATCH_PIXELS = 64_000_000  # pages decoded and read together (~200 MB of RGB)
ROW_OVERLAP = 0.5  # side-by-side boxes whose centre lines meet within half a line height share a row
ROW_X_OVERLAP = 0.3  # boxes overlapping horizontally by more than this share of the narrower are stacked
DESKEW_MIN_DEG = 1.0  # pages sloping less than this are read as they are
VOCAB_MIN_LEN = 4  # shorter words are never corrected ("on"/"or" are both words)
VOCAB_MAX_EDIT_RATIO = 0.34  # edits allowed per letter when correcting towards the vocabulary

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# -- loading -------------------------------------------------------------------


def _name(src: ImageInput) -> str:
    return str(src) if isinstance(src, (str, Path)) else f"<{type(src).__name__}>"


def load_image(src: ImageInput) -> Image.Image:
    """Decode an image fully, apply its EXIF orientation and return it as RGB.

    Raises ``ValueError`` with a message fit for the uploader when the data is not
    a decodable image (truncated, wrong type, too small or absurdly large), and
    ``FileNotFoundError`` when a path does not exist.
    """
    name = _name(src)
    if isinstance(src, Image.Image):
        img = src
    else:
        if isinstance(src, (str, Path)) and not Path(src).is_file():
            raise FileNotFoundError(f"Image file not found: {src}")
        try:
            img = Image.open(io.BytesIO(src) if isinstance(src, bytes) else src)
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise ValueError(f"{name}: not a decodable image ({exc})") from exc
        except Image.DecompressionBombError as exc:
            raise ValueError(f"{name}: image too large ({exc})") from exc
    if img.width * img.height > MAX_PIXELS:
        raise ValueError(f"{name}: image too large ({img.width}x{img.height} pixels, limit {MAX_PIXELS})")
    try:
        img.load()  # Image.open is lazy: truncated files only fail here
        img = ImageOps.exif_transpose(img) or img
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            page = Image.new("RGB", rgba.size, "white")  # transparent = paper, not black
            page.paste(rgba, mask=rgba.getchannel("A"))
            img = page
        else:
            img = img.convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{name}: not a decodable image ({exc})") from exc
    if min(img.size) < MIN_SIDE:
        raise ValueError(
            f"{name}: image too small ({img.width}x{img.height} pixels, need at least {MIN_SIDE} on each side)"
        )
    return img


# -- statistics ----------------------------------------------------------------


def _gray_small(img: Image.Image, max_side: int = STATS_MAX_SIDE) -> np.ndarray:
    gray = img.convert("L")
    scale = max_side / max(gray.size)
    if scale < 1:
        gray = gray.resize(
            (max(1, round(gray.width * scale)), max(1, round(gray.height * scale))), Image.Resampling.BILINEAR
        )
    return np.asarray(gray, dtype=np.float32)


def _page(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (contrast-normalised page, ink mask).

    The background is the median intensity (paper fills most of a page); on a dark
    board the image is inverted first. The page is stretched so background = 255
    and the darkest 1 % = 0, which makes blur comparable between pencil and ink.
    Ink is what differs from the background by 25 % of that range and at least 40
    grey levels, so sensor noise, shadows and faint ruled lines are not ink.
    """
    background = float(np.median(gray))
    if background < 128:  # light writing on a dark board
        gray = 255.0 - gray
        background = 255.0 - background
    darkest = float(np.percentile(gray, 1))
    contrast = background - darkest
    mask = gray < background - max(40.0, 0.25 * contrast)
    normalised = np.clip((gray - darkest) * (255.0 / max(contrast, 40.0)), 0, 255)
    return normalised, mask


def _laplacian_var(gray: np.ndarray, mask: np.ndarray | None) -> float:
    """Variance of the Laplacian around the ink (the whole page when there is none)."""
    from scipy import ndimage

    lap = ndimage.laplace(gray)
    if mask is not None and mask.any():
        region = ndimage.binary_dilation(mask, iterations=3)
        return float(lap[region].var())
    return float(lap.var())


def _profile_sharpness(mask: np.ndarray, angle: float) -> float:
    from scipy import ndimage

    rotated = ndimage.rotate(mask.astype(np.float32), angle, reshape=True, order=0)
    rows = rotated.sum(axis=1)
    return float(np.square(np.diff(rows)).sum())


def estimate_skew(mask: np.ndarray) -> float:
    """Text-line angle in degrees from an ink mask (projection-profile method).

    The page is rotated over candidate angles; the angle at which the horizontal
    ink profile is sharpest (text lines fall into rows) wins. Coarse 1-degree search
    over +-20 degrees, then 0.1-degree refinement. Returns 0 when there is too little
    ink to tell.
    """
    if mask.sum() < 50:
        return 0.0
    ys, xs = np.nonzero(mask)
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = 400 / max(crop.shape)
    if scale < 1:
        img = Image.fromarray(crop.astype(np.uint8) * 255)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BOX)
        crop = np.asarray(img) > 32
    coarse = np.arange(-SKEW_MAX_DEG, SKEW_MAX_DEG + 0.5, 1.0)
    best = max(coarse, key=lambda a: _profile_sharpness(crop, a))
    fine = np.arange(best - 1.0, best + 1.05, 0.1)
    best = max(fine, key=lambda a: _profile_sharpness(crop, a))
    # ndimage.rotate turns the array counter-clockwise (as displayed) by ``angle``;
    # the text was turned by the opposite amount.
    return round(float(-best), 1) + 0.0


def ink_box(img: Image.Image, margin: float = 0.05) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` around the ink of a page, with a small margin; the whole
    image when there is no ink. Used to crop a written answer before recognition."""
    _, mask = _page(_gray_small(img))
    if not mask.any():
        return 0, 0, img.width, img.height
    scale = img.width / mask.shape[1]
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min() * scale, (xs.max() + 1) * scale, ys.min() * scale, (ys.max() + 1) * scale
    pad = max(4.0, margin * max(x1 - x0, y1 - y0))
    return (
        max(0, int(x0 - pad)),
        max(0, int(y0 - pad)),
        min(img.width, int(math.ceil(x1 + pad))),
        min(img.height, int(math.ceil(y1 + pad))),
    )


def image_stats(img: Image.Image) -> ImageStats:
    """Blank/ink/blur/skew statistics of one loaded image (see ``ImageStats``)."""
    gray, mask = _page(_gray_small(img))
    ink = float(mask.mean())
    blank = ink < BLANK_INK_COVERAGE
    blur_var = 0.0 if blank else _laplacian_var(gray, mask)
    skew = 0.0 if blank else estimate_skew(mask)
    return ImageStats(
        width=img.width,
        height=img.height,
        blank=bool(blank),
        ink_coverage=ink,
        blur_var=blur_var,
        readable=bool(not blank and blur_var >= BLUR_VAR_MIN),
        skew_deg=skew,
    )


# -- OCR -----------------------------------------------------------------------


def rapidocr_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"rapidocr-{version('rapidocr')}"
    except PackageNotFoundError:  # pragma: no cover - rapidocr is a hard dependency
        return "rapidocr-unknown"


def deskew(img: Image.Image, skew_deg: float) -> tuple[Image.Image, float]:
    """Straighten a page whose text lines slope by ``skew_deg`` (see ``estimate_skew``).

    Small angles are left alone (the detector's rotated boxes absorb them and a
    rotation resamples every pixel); returns the image and the rotation applied.
    """
    if abs(skew_deg) < DESKEW_MIN_DEG or abs(skew_deg) > SKEW_MAX_DEG:
        return img, 0.0
    rotated = img.rotate(-skew_deg, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=(255, 255, 255))
    return rotated, -skew_deg


def reading_order(lines: Sequence[OCRLine]) -> list[list[OCRLine]]:
    """Group detected boxes into rows (top to bottom) and order each row left to right.

    The detector returns boxes roughly top-to-bottom; on handwriting a row is often
    split into fragments whose tops differ by more than its 10-pixel rule, so the
    words of one row interleave with the next. Here a box joins a row when it sits
    beside one of the row's boxes (little horizontal overlap) and its centre lies within
    half a line height of that box's centre line, extended to it (rows may slope).
    """
    geo = [_box_geometry(line.box) for line in lines]
    order = sorted(range(len(lines)), key=lambda i: geo[i][1])
    rows: list[list[int]] = []
    for i in order:
        home = next((row for row in rows if any(_same_row(geo[i], geo[j]) for j in row)), None)
        if home is None:
            rows.append([i])
        else:
            home.append(i)
    rows.sort(key=lambda row: float(np.mean([geo[i][1] for i in row])))
    return [[lines[i] for i in sorted(row, key=lambda i: geo[i][3])] for row in rows]


def _box_geometry(box: Sequence[Sequence[float]]) -> tuple[float, float, float, float, float, float]:
    """(centre x, centre y, slope of the centre line, left x, right x, line height) of a quad
    given as [top-left, top-right, bottom-right, bottom-left]."""
    (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = [(float(x), float(y)) for x, y in box]
    lx, ly = (tlx + blx) / 2, (tly + bly) / 2
    rx, ry = (trx + brx) / 2, (try_ + bry) / 2
    slope = (ry - ly) / (rx - lx) if abs(rx - lx) > 1e-6 else 0.0
    height = (abs(bly - tly) + abs(bry - try_)) / 2
    xs = (tlx, trx, brx, blx)
    return (lx + rx) / 2, (ly + ry) / 2, slope, min(xs), max(xs), max(height, 1.0)


def _same_row(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    ax, ay, a_slope, a_left, a_right, ah = a
    bx, by, _, b_left, b_right, bh = b
    overlap = min(a_right, b_right) - max(a_left, b_left)
    if overlap > ROW_X_OVERLAP * min(a_right - a_left, b_right - b_left):
        return False  # one above the other, not side by side
    return abs(ay + a_slope * (bx - ax) - by) < ROW_OVERLAP * min(ah, bh)


def page_confidence(lines: Sequence[OCRLine]) -> float:
    """Character-weighted mean line score: a long line read badly weighs more than a stray mark."""
    weights = [max(len(line.text.strip()), 1) for line in lines]
    return float(np.average([line.score for line in lines], weights=weights)) if lines else 0.0


# -- correction against the assignment's vocabulary ------------------------------------

_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def vocabulary_from_texts(texts: Iterable[str]) -> frozenset[str]:
    """The lower-case words (2+ letters) of the assignment's own texts: question,
    reference answers, key points, rubric. What the correction may correct towards."""
    return frozenset(w.lower() for text in texts for w in _TOKEN.findall(text or "") if len(w) >= 2)


def _max_edits(n: int) -> int:
    return 0 if n < VOCAB_MIN_LEN else max(1, int(n * VOCAB_MAX_EDIT_RATIO))


def _closest(word: str, vocabulary: frozenset[str], by_length: dict[int, list[str]]) -> str | None:
    """The single vocabulary word within the edit budget of ``word``; None when none or a tie."""
    from multimodal.metrics import edit_distance

    budget = _max_edits(len(word))
    if budget == 0:
        return None
    best: list[str] = []
    best_d = budget + 1
    for n in range(len(word) - budget, len(word) + budget + 1):
        for cand in by_length.get(n, ()):
            d = edit_distance(word, cand)
            if d > budget:
                continue
            if d < best_d:
                best, best_d = [cand], d
            elif d == best_d:
                best.append(cand)
    return best[0] if len(best) == 1 else None


def _cased_like(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def correct_with_vocabulary(text: str, vocabulary: Iterable[str]) -> tuple[str, list[tuple[str, str]]]:
    """Correct recognised words towards the assignment's own vocabulary.

    A word that is neither in the vocabulary nor an English word (``text_features``'s
    word list) is replaced by the one vocabulary word within a small edit distance (1
    edit up to 5 letters, then about one in three letters; none under ``VOCAB_MIN_LEN``
    letters, and never on a tie); two adjacent fragments whose join is a vocabulary word
    are joined ("road bed" -> "roadbed"). Only vocabulary words are ever produced.

    Measured on CSAFE (first 20 pages, tuning): with the page's own prompt as vocabulary
    CER 0.052 -> 0.034; with the *other* prompt's words (a control) 0.052 -> 0.053.
    Correcting English words too reached 0.030 with the right vocabulary but 0.058
    with the wrong one, so English words are left alone.
    Returns the corrected text and the ``(read, corrected)`` pairs for the teacher.
    """
    from multimodal.text_features import is_known_word

    vocab = vocabulary if isinstance(vocabulary, frozenset) else frozenset(w.lower() for w in vocabulary)
    if not vocab or not text:
        return text, []
    by_length: dict[int, list[str]] = {}
    for w in sorted(vocab):
        by_length.setdefault(len(w), []).append(w)
    corrections: list[tuple[str, str]] = []
    out: list[str] = []
    pos = 0
    tokens = list(_TOKEN.finditer(text))
    skip_next = False
    for k, m in enumerate(tokens):
        if skip_next:
            skip_next = False
            pos = m.end()
            continue
        word = m.group(0)
        out.append(text[pos : m.start()])
        pos = m.end()
        lower = word.lower()
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        if (
            nxt is not None
            and text[m.end() : nxt.start()] == " "
            and (lower + nxt.group(0).lower()) in vocab
            and not (lower in vocab and nxt.group(0).lower() in vocab)
        ):
            joined = _cased_like(word, lower + nxt.group(0).lower())
            corrections.append((f"{word} {nxt.group(0)}", joined))
            out.append(joined)
            skip_next = True
            continue
        if lower in vocab or is_known_word(word):
            out.append(word)  # an English word is left alone: "son" may be what was written
            continue
        fixed = _closest(lower, vocab, by_length)
        if fixed is None:
            out.append(word)
            continue
        fixed = _cased_like(word, fixed)
        corrections.append((word, fixed))
        out.append(fixed)
    out.append(text[pos:])
    return "".join(out), corrections


class OCREngine:
    """One RapidOCR engine (its ONNX sessions are built once) behind a lock.

    ``read`` takes a whole batch: every page is detected on its own (pages differ in
    size), then the line crops of all pages go through the recogniser together, sorted
    by width, so its batches are full and evenly padded (on a GPU, one large batch).
    RapidOCR updates engine state per call, so calls are serialised by a lock.
    """

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        from rapidocr import RapidOCR

        self.params = {**OCR_PARAMS, **(params or {})}
        self._engine = RapidOCR(params=self.params)
        self._lock = threading.Lock()
        self.version = rapidocr_version()
        self.low_confidence = LOW_CONFIDENCE
        self.text_score = float(self.params.get("Global.text_score", TEXT_SCORE))

    def __call__(self, src: ImageInput, vocabulary: Iterable[str] | None = None) -> OCRResult:
        return self.read([src], [vocabulary])[0]

    def read(
        self,
        images: Sequence[ImageInput],
        vocabularies: Sequence[Iterable[str] | None] | None = None,
        *,
        skews: Sequence[float] | None = None,
    ) -> list[OCRResult]:
        """OCR a batch of pages in input order (see the class doc). ``skews`` are the
        pages' text angles when already measured (``image_stats``), else 0 (no deskew)."""
        from rapidocr.utils.process_img import map_boxes_to_original

        vocabularies = vocabularies or [None] * len(images)
        skews = skews or [0.0] * len(images)
        started = time.perf_counter()
        per_page: list[tuple[list[np.ndarray], np.ndarray | None, float]] = []
        with self._lock:
            engine = self._engine
            crops_all: list[np.ndarray] = []
            owners: list[int] = []
            for page, (src, skew) in enumerate(zip(images, skews, strict=True)):
                img = src if isinstance(src, Image.Image) else load_image(src)
                img, applied = deskew(img, skew)
                arr = engine.load_img(img)  # RGB -> BGR, as RapidOCR's own call does
                pre, record = engine.preprocess_img(arr)
                try:
                    crops, det = engine.detect_and_crop(pre, record)
                except Exception:  # RapidOCRError: nothing detected on this page
                    per_page.append(([], None, applied))
                    continue
                boxes = map_boxes_to_original(det.boxes, record, arr.shape[0], arr.shape[1])
                per_page.append((crops, boxes, applied))
                crops_all.extend(crops)
                owners.extend([page] * len(crops))
            texts: list[str] = []
            scores: list[float] = []
            if crops_all:
                rec = engine.recognize_txt(crops_all)
                texts = [str(t) for t in rec.txts]
                scores = [float(x) for x in rec.scores]
        seconds = (time.perf_counter() - started) / max(len(images), 1)
        lines_by_page: list[list[OCRLine]] = [[] for _ in images]
        cursor = {page: 0 for page in range(len(images))}
        for owner, text, score in zip(owners, texts, scores, strict=True):
            boxes = per_page[owner][1]
            box = boxes[cursor[owner]]
            cursor[owner] += 1
            if text.strip() and score >= self.text_score:
                lines_by_page[owner].append(
                    OCRLine(text=text.strip(), box=np.asarray(box, dtype=float).tolist(), score=score)
                )
        return [
            self._result(lines, seconds, per_page[page][2], vocab)
            for page, (lines, vocab) in enumerate(zip(lines_by_page, vocabularies, strict=True))
        ]

    def _result(
        self, lines: list[OCRLine], seconds: float, applied: float, vocabulary: Iterable[str] | None
    ) -> OCRResult:
        rows = reading_order(lines)
        ordered = [line for row in rows for line in row]
        raw = "\n".join(" ".join(line.text for line in row) for row in rows)
        text, corrections = correct_with_vocabulary(raw, vocabulary) if vocabulary else (raw, [])
        confidence = page_confidence(ordered)
        return OCRResult(
            text=text,
            lines=ordered,
            seconds=seconds,
            model=self.version,
            raw_text=raw,
            corrections=corrections,
            confidence=confidence,
            low_confidence=bool(ordered) and confidence < self.low_confidence,
            deskew_deg=applied,
        )


# -- handwritten maths answers -------------------------------------------------------


@dataclass
class MathsReading:
    """What the recogniser read on one image: LaTeX-like text, its confidence, the ink box."""

    text: str
    confidence: float
    box: list[int]  # [x0, y0, x1, y1] in the image
    model: str = ""


def pmsh_model_dir() -> Path:
    """The ONNX models shipped in the ``pmsh-ocr`` wheel."""
    import pmsh

    return Path(pmsh.__file__).parent / "models"


class MathsReader:
    """The pmsh-ocr CTC recogniser for handwritten arithmetic answers, batched.

    Pages are cropped to their ink (the package's own grid detector takes ~0.3 s an
    image in Python loops), resized to 64x256 as in training, and read in one ONNX
    call per batch. Only the unbiased CTC head is used: the package's second decoder
    reads *towards a given reference*, which would make a wrong answer look right.
    """

    INPUT_SHAPE = (64, 256)

    def __init__(self, model_dir: str | Path | None = None, threads: int = 0) -> None:
        import onnxruntime as ort
        from pmsh.recognize import RAW_VOCABULARY
        from pmsh.tokenize import CTCTokenizer

        path = Path(model_dir) if model_dir else pmsh_model_dir()
        model = path / "encoder_ctc.onnx"
        if not model.is_file():
            raise FileNotFoundError(f"maths recogniser not found at {model} (install pmsh-ocr)")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.tokenizer = CTCTokenizer(RAW_VOCABULARY)
        self._lock = threading.Lock()
        from importlib.metadata import version

        self.name = f"pmsh-ocr-{version('pmsh-ocr')}"

    def _prepare(self, img) -> tuple[np.ndarray, list[int]]:
        import cv2

        page = load_image(img) if not hasattr(img, "convert") else img.convert("RGB")
        arr = np.asarray(page)[:, :, ::-1]  # BGR, as the package reads with cv2.imread
        x0, y0, x1, y1 = ink_box(page)
        crop = arr[y0:y1, x0:x1]
        h, w = crop.shape[:2]
        target_h, target_w = self.INPUT_SHAPE
        new_w = min(target_w, max(1, math.ceil(target_h * w / max(h, 1))))
        interp = cv2.INTER_AREA if h > target_h else cv2.INTER_LINEAR
        resized = cv2.resize(np.ascontiguousarray(crop), (new_w, target_h), interpolation=interp)
        canvas = np.full((target_h, target_w, 3), 255, dtype=np.uint8)
        canvas[:, :new_w] = resized
        return canvas.transpose(2, 0, 1).astype(np.float32), [int(x0), int(y0), int(x1), int(y1)]

    def read(self, images, batch_size: int = 32) -> list[MathsReading]:
        out: list[MathsReading] = []
        for start in range(0, len(images), batch_size):
            prepared = [self._prepare(img) for img in images[start : start + batch_size]]
            batch = np.stack([p[0] for p in prepared])
            with self._lock:
                ids, probs, _ = self.session.run(
                    ["output_ids", "output_probs", "output_feature"], {"input_image": batch}
                )
            texts, confidences = self.tokenizer.decode(probs, ids)
            for (_, box), text, conf in zip(prepared, texts, confidences, strict=True):
                out.append(MathsReading(text=str(text), confidence=float(conf), box=box, model=self.name))
        return out


# -- torchvision ---------------------------------------------------------------


def image_transform(size: int = 224):
    """The ImageNet eval transform (resize, centre crop, tensor, normalise)."""
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize(round(size * 256 / 224)),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


class ImageBackbone:
    """A torchvision classifier with its head removed, loaded from local weights.

    ``weights_path`` is a ``state_dict`` saved with ``torch.save`` for ``arch``
    (default resnet18). Loading is strict: a mismatched file is an error, never a
    partially random model.
    """

    def __init__(self, weights_path: str | Path, arch: str = "resnet18", device: str | None = None) -> None:
        import torch
        from torchvision import models

        from multimodal.device import pick_device

        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"Image backbone weights not found at {path} (EDUPLATFORM_IMAGE_BACKBONE_WEIGHTS "
                "must be a local torchvision state_dict; leave it empty to run without a backbone)"
            )
        self.device = pick_device(device)
        model = models.get_model(arch, weights=None)
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        if hasattr(model, "fc"):
            model.fc = torch.nn.Identity()
        elif hasattr(model, "classifier"):
            model.classifier = torch.nn.Identity()
        self.model = model.to(self.device).eval()
        self.transform = image_transform()
        self.name = f"{arch}:{path.name}"

    def embed(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        import torch

        outs = []
        for start in range(0, len(images), batch_size):
            batch = torch.stack([self.transform(im) for im in images[start : start + batch_size]])
            with torch.inference_mode():
                feats = self.model(batch.to(self.device))
            outs.append(feats.float().cpu().numpy())
        return np.concatenate(outs) if outs else np.zeros((0, 0), dtype=np.float32)


# -- public --------------------------------------------------------------------


def encode_images(
    paths: Sequence[ImageInput],
    text_encoder: TextEncoder | None = None,
    *,
    ocr: OCREngine | None = None,
    backbone: ImageBackbone | None = None,
    vocabularies: Sequence[Iterable[str] | None] | None = None,
    batch_pixels: int = OCR_BATCH_PIXELS,
) -> list[ImageFeatures]:
    """Read images in input order: page statistics and OCR, the whole list in batches.

    Pages are decoded and read in chunks of at most ``batch_pixels`` pixels, so a large
    claimed batch of phone photos never sits in memory at once; each chunk goes through
    ``OCREngine.read`` together (one recogniser pass over all its lines). A page that
    slopes is straightened first. ``vocabularies`` (one per image, e.g. the assignment's
    words from ``vocabulary_from_texts``) turn on correction towards them.

    The OCR engine defaults to the process-wide registry's. Embeddings are computed
    only when asked for: ``text_encoder`` embeds the recognised text (the grading
    pipeline does not pass one: it embeds every answer of a batch in one call) and
    ``backbone`` adds a visual embedding. Raises ``ValueError`` naming the file when
    an image cannot be decoded (validate uploads with ``load_image``).
    """
    from multimodal import registry

    ocr = ocr or registry.get_ocr()
    vocabularies = list(vocabularies) if vocabularies is not None else [None] * len(paths)
    if len(vocabularies) != len(paths):
        raise ValueError(f"{len(paths)} images but {len(vocabularies)} vocabularies")
    stats: list[ImageStats] = []
    ocr_results: list[OCRResult] = []
    visual: list[np.ndarray | None] = []
    backbone_name = backbone.name if backbone is not None else "absent"
    chunk: list[Image.Image] = []
    first = 0

    def flush() -> None:
        nonlocal chunk, first
        if not chunk:
            return
        page_stats = [image_stats(img) for img in chunk]
        stats.extend(page_stats)
        ocr_results.extend(
            ocr.read(chunk, vocabularies[first : first + len(chunk)], skews=[st.skew_deg for st in page_stats])
        )
        visual.extend(list(backbone.embed(chunk)) if backbone is not None else [None] * len(chunk))
        first += len(chunk)
        chunk = []

    pixels = 0
    for p in paths:
        img = load_image(p)
        if chunk and pixels + img.width * img.height > batch_pixels:
            flush()
            pixels = 0
        chunk.append(img)
        pixels += img.width * img.height
    flush()

    embeddings: list[np.ndarray | None] = [None] * len(paths)
    texts = [r.text for r in ocr_results]
    with_text = [i for i, t in enumerate(texts) if t.strip()]
    if text_encoder is not None and with_text:
        encoded = text_encoder.encode([texts[i] for i in with_text])
        for row, i in enumerate(with_text):
            embeddings[i] = encoded[row]

    return [
        ImageFeatures(path=_name(p), ocr=o, stats=s, text_embedding=e, backbone_embedding=v, backbone=backbone_name)
        for p, o, s, e, v in zip(paths, ocr_results, stats, embeddings, visual, strict=True)
    ]


__all__ = [
    "ImageBackbone",
    "MathsReader",
    "MathsReading",
    "OCREngine",
    "correct_with_vocabulary",
    "deskew",
    "encode_images",
    "estimate_skew",
    "image_stats",
    "image_transform",
    "ink_box",
    "load_image",
    "page_confidence",
    "reading_order",
    "vocabulary_from_texts",
]

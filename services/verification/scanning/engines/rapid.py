"""OCR with RapidOCR: PP-OCRv4 text detection and recognition on onnxruntime, models in the wheel.

Nothing is fetched at run time (the wheel carries the ONNX files), so this engine works on any
machine ``pip install`` set up. One engine per process, built on first use (loading the models
takes a second or two) and shared by the worker threads: onnxruntime sessions are safe to run
concurrently, and the engine is built with every option fixed so a call changes no state.

Settings, and why:
- one onnxruntime thread per session by default (``MAMORI_OCR_THREADS``): scans run in worker
  threads already, and onnxruntime's spinning thread pool starves a small shared machine;
- no angle classifier: statements and photos of them are upright, and it costs a third more;
- a box threshold of 0.3 rather than 0.5, so runs of mask dots (``●●●●``) are boxed and read
  (as ``0000``) instead of dropped, and the text score floor 0.3 keeps them.

Its recognizer is the Chinese PP-OCRv4 one: kanji and Latin read well, kana does not
(``カード番号`` comes out ``力一下番号``); the statement checks do not depend on kana labels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from services.verification.scanning.engines import OcrUnavailable, Word

_BOX_THRESHOLD = 0.3
_TEXT_SCORE = 0.3


@dataclass(frozen=True)
class RapidEngine:
    ocr: Any
    name: str = "rapidocr"

    def read(self, image: Image.Image) -> list[Word]:
        pixels = np.asarray(image.convert("RGB"))
        try:
            result, _ = self.ocr(pixels)
        except Exception as exc:  # onnxruntime and OpenCV raise their own errors on odd input
            raise OcrUnavailable(f"rapidocr failed: {type(exc).__name__}") from exc
        return [_word(box, text) for box, text, _score in result or [] if text.strip()]


def _word(box: list[list[float]], text: str) -> Word:
    xs = [point[0] for point in box]
    ys = [point[1] for point in box]
    left, top = int(min(xs)), int(min(ys))
    return Word(text=text.strip(), left=left, top=top, width=int(max(xs)) - left + 1, height=int(max(ys)) - top + 1)


@functools.cache
def rapid_engine(threads: int) -> RapidEngine:
    """The process's engine (models loaded once)."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise OcrUnavailable("rapidocr-onnxruntime is not installed") from exc
    ocr = RapidOCR(
        intra_op_num_threads=threads,
        inter_op_num_threads=threads,
        use_cls=False,
        det_box_thresh=_BOX_THRESHOLD,
        text_score=_TEXT_SCORE,
    )
    return RapidEngine(ocr)

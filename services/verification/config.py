"""Settings of the verification service. Every number a case or upload rule depends on is named here.

Environment: ``MAMORI_<FIELD>`` (e.g. ``MAMORI_RETENTION_DAYS``); the database is
``MAMORI_VERIFICATION_DATABASE_URL``; the document keys ``MAMORI_VERIFICATION_DOCUMENT_KEYS``.
"""

from typing import ClassVar, Literal

from pydantic import AliasChoices, Field

from mamori_common.settings import ServiceSettings


class VerificationSettings(ServiceSettings):
    service_name: ClassVar[str] = "verification"
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("MAMORI_VERIFICATION_DATABASE_URL"))

    # -- cases/: the promised answer time, per kind, counted from the customer's last input. --
    answer_hours_payment_verification: int = 24
    answer_hours_intrusion: int = 4
    answer_hours_lockout: int = 24
    answer_hours_not_me: int = 24
    answer_hours_callback: int = 4

    # -- review/: rounds a customer gets before a rejection closes the account (a second
    # specialist must confirm that last one). --
    rounds_before_final_rejection: int = 3

    # -- documents/: limits, retention, masking, keys. --
    max_upload_bytes: int = 10 * 1024 * 1024
    max_pages: int = 10
    #: An image (or a rendered PDF page) larger than this many pixels is refused as a bomb.
    max_image_pixels: int = 40_000_000
    #: A PDF's streams, all inflated, may come to this much (a bomb is refused before pdfium).
    max_inflated_bytes: int = 256 * 1024 * 1024
    #: One PDF page rendered for OCR (at ``ocr_render_scale``): A2 fits, a 200-inch page does not.
    max_render_pixels: int = 20_000_000
    #: The scan's child process: address space, CPU seconds, wall seconds (scanning/sandbox.py).
    #: Address space, not resident memory: RapidOCR on a full A4 page at 216 dpi peaks at about
    #: 1.6 GB of it (0.76 GB resident), so 3 GB leaves room for two-page reads and stops a bomb.
    scan_memory_bytes: int = 3 * 1024 * 1024 * 1024
    scan_cpu_seconds: int = 60
    scan_wall_seconds: float = 120.0
    #: Scans at once per service process; one more waits this long for a slot, then 503.
    max_concurrent_scans: int = 2
    scan_queue_wait_seconds: float = 5.0
    #: Days a case's documents are kept after it closes; ``mamori purge`` deletes older ones.
    retention_days: int = 90
    #: Images showing a full card number: black the digits out and keep only the masked copy,
    #: instead of refusing the upload. PDFs are always refused (their text layer cannot be trusted
    #: to be masked by painting over a picture of it).
    mask_images_instead_of_refusing: bool = False
    #: ``kid:base64url-32-byte-key`` pairs, comma separated, the first one encrypts (older ones
    #: still decrypt, so keys rotate). Embedded default: generated once under the data dir.
    document_keys: str | None = Field(default=None, validation_alias=AliasChoices("MAMORI_VERIFICATION_DOCUMENT_KEYS"))
    #: Where the encrypted documents live: ``database`` (the ``document_blobs`` table, shared by
    #: every replica), ``directory`` (``<data dir>/documents``, one machine), or ``auto``: the
    #: database on PostgreSQL, the directory on SQLite (the embedded default).
    document_store: Literal["auto", "database", "directory"] = "auto"
    #: OCR engine (``MAMORI_OCR_ENGINE``): ``rapidocr`` (the default: its models ship in its wheel,
    #: so it works wherever ``pip`` installed the project) or ``tesseract`` (Debian's program).
    #: Figures for both: ``tests/bench/scan.py``.
    ocr_engine: Literal["rapidocr", "tesseract"] = "rapidocr"
    #: onnxruntime threads per RapidOCR session (scans already run in worker threads).
    ocr_threads: int = Field(default=1, ge=1, le=64)
    #: The Tesseract program and its languages (Debian's tesseract-ocr with jpn and eng).
    tesseract_command: str = "tesseract"
    ocr_languages: str = "jpn+eng"
    ocr_timeout_seconds: float = 20.0
    #: Rendering scale of a PDF page (72 dpi times this): the rendering is what OCR reads and what
    #: is kept, so 3.0 (216 dpi) keeps 8-point print legible to both.
    ocr_render_scale: float = 3.0

    def answer_hours(self, kind: str) -> int:
        return int(getattr(self, f"answer_hours_{kind}"))

"""How a customer reads: language choice, times in their zone, money in minor units, and a
Japanese catalogue that covers every text a page shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from portal.localization import CATALOGUE_DIR, Reader, choose_language, choose_zone

PORTAL = Path(__file__).resolve().parents[2] / "portal"
PO = CATALOGUE_DIR / "ja" / "LC_MESSAGES" / "messages.po"
MO = CATALOGUE_DIR / "ja" / "LC_MESSAGES" / "messages.mo"


def test_japanese_first_unless_the_browser_or_the_switch_says_otherwise() -> None:
    assert choose_language(None, None) == "ja"
    assert choose_language(None, "fr-FR,de;q=0.8") == "ja"
    assert choose_language(None, "en-GB,en;q=0.9,ja;q=0.8") == "en"
    assert choose_language(None, "en;q=0.5,ja;q=0.9") == "ja"
    assert choose_language(None, "ja;q=0,en") == "en"
    assert choose_language("en", "ja") == "en"
    assert choose_language("xx", "en") == "en"


def test_a_zone_cookie_that_names_no_zone_falls_back_to_tokyo() -> None:
    assert choose_zone("Europe/London", "Asia/Tokyo") == ZoneInfo("Europe/London")
    assert choose_zone("Mars/Olympus", "Asia/Tokyo") == ZoneInfo("Asia/Tokyo")
    assert choose_zone("../../etc/passwd", "Asia/Tokyo") == ZoneInfo("Asia/Tokyo")


def test_a_utc_time_reads_in_the_customers_zone_with_the_zone_named() -> None:
    moment = "2026-11-23T15:30:00Z"  # 00:30 the next day in Tokyo
    japanese = Reader("ja", ZoneInfo("Asia/Tokyo")).time(moment)
    english = Reader("en", ZoneInfo("Asia/Tokyo")).time(moment)
    london = Reader("en", ZoneInfo("Europe/London")).time(moment)

    assert japanese.startswith("2026/11/24 0:30") and "日本標準時" in japanese
    assert "Nov 24, 2026" in english and "12:30" in english and "Japan Standard Time" in english
    assert "3:30" in london and "Greenwich Mean Time" in london
    assert Reader("en", ZoneInfo("Asia/Tokyo")).time(None) == ""


def test_money_is_written_from_minor_units_per_currency_and_locale() -> None:
    assert Reader("ja", ZoneInfo("Asia/Tokyo")).money(50_000, "JPY") == "50,000円"
    assert Reader("en", ZoneInfo("Asia/Tokyo")).money(50_000, "JPY") == "¥50,000"
    assert Reader("en", ZoneInfo("Asia/Tokyo")).money(1_234, "USD") == "$12.34"
    assert Reader("ja", ZoneInfo("Asia/Tokyo")).tender_amount("points", 300, "JPY") == "300ポイント"
    assert Reader("en", ZoneInfo("Asia/Tokyo")).tender_amount("points", 1, "JPY") == "1 point"


def test_every_text_of_the_pages_has_a_japanese_translation() -> None:
    catalogue = read_po(PO.open("rb"), locale="ja")
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None}
    missing = []
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PORTAL), method_map, options_map=options, keywords=keywords
    ):
        entry = catalogue.get(message)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(message)
    assert not missing, f"texts without Japanese (run `make i18n` and translate): {missing}"


def test_the_compiled_catalogue_matches_its_source() -> None:
    source = {entry.id: entry.string for entry in read_po(PO.open("rb"), locale="ja") if entry.id}
    compiled = {entry.id: entry.string for entry in read_mo(MO.open("rb")) if entry.id}
    assert compiled == source, "portal/i18n/ja/LC_MESSAGES/messages.mo is stale: run `make i18n`"


def test_the_portal_renders_japanese_from_a_fresh_process() -> None:
    """The catalogue is found where the package is installed, not where the tests run from."""
    code = (
        "from zoneinfo import ZoneInfo; from portal.localization import Reader; "
        "print(Reader('ja', ZoneInfo('Asia/Tokyo')).gettext('Sign in'))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True)
    assert output.stdout.strip() == "サインイン"

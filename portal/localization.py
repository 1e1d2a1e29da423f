"""The customer's language and time zone, and how numbers, money and times read in them.

Japanese comes first: a visitor whose browser states no preference we can serve reads Japanese.
The source texts of the templates are English; ``portal/i18n/ja`` holds their Japanese (a Babel
catalogue, extracted and compiled by ``make i18n``). Every time a person reads is shown in their
zone (Asia/Tokyo unless they chose another) with the zone named, never as bare UTC; the API
fields stay UTC ISO 8601 and are converted only here, at rendering.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import dates, numbers
from babel.support import NullTranslations, Translations

from portal.words import reason_words

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"
CATALOGUE_DIR = Path(__file__).resolve().parent / "i18n"
DOMAIN = "messages"
#: Zones a customer can pick on the security page; any IANA zone is accepted from the cookie.
OFFERED_ZONES = (
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Australia/Sydney",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)


def choose_language(chosen: str | None, accept_language: str | None) -> str:
    """The switch's choice, else the first supported language the browser names, else Japanese."""
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def choose_zone(chosen: str | None, default: str) -> ZoneInfo:
    if chosen:
        try:
            return ZoneInfo(chosen)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(default)


@functools.cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of ``language``; English is the source text itself."""
    if language == "en":
        return NullTranslations()
    return Translations.load(str(CATALOGUE_DIR), [language], DOMAIN)


def parse_time(value: str | datetime | None) -> datetime | None:
    """An API time (UTC ISO 8601) as an aware datetime; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Reader:
    """One customer's way of reading: language and zone. Templates get its methods."""

    language: str
    zone: ZoneInfo

    def gettext(self, message: str, **variables: object) -> str:
        text = translations(self.language).gettext(message)
        return text % variables if variables else text

    def time(self, value: str | datetime | None) -> str:
        """A moment as the customer reads it: date and time in their zone, the zone named."""
        moment = parse_time(value)
        if moment is None:
            return ""
        local = moment.astimezone(self.zone)
        written = dates.format_datetime(local, "medium", tzinfo=self.zone, locale=self.language)
        zone_name = dates.format_datetime(local, "zzzz", tzinfo=self.zone, locale=self.language)
        return f"{written} ({zone_name})"

    def wait_minutes(self, seconds: int) -> int:
        """A wait (a Retry-After) in whole minutes, rounded up: never a bare count of seconds."""
        return max(1, math.ceil(seconds / 60))

    def time_after(self, seconds: int) -> str:
        """The time of day, in the reader's zone with the zone named, when a wait of ``seconds`` ends."""
        local = (datetime.now(UTC) + timedelta(seconds=seconds)).astimezone(self.zone)
        written = dates.format_time(local, "short", tzinfo=self.zone, locale=self.language)
        zone_name = dates.format_datetime(local, "zzzz", tzinfo=self.zone, locale=self.language)
        return f"{written} ({zone_name})"

    def iso(self, value: str | datetime | None) -> str:
        """The machine-readable form for ``<time datetime=...>``."""
        moment = parse_time(value)
        return moment.isoformat() if moment else ""

    def money(self, amount_minor: int, currency: str) -> str:
        """Integer minor units as the locale writes the amount (JPY has no minor unit).

        Yen read "100,000円" in Japanese and "¥100,000" in English, everywhere (never "JPY")."""
        if currency == "JPY" and self.language == "ja":
            return f"{numbers.format_decimal(amount_minor, locale='ja')}円"
        digits = numbers.get_currency_precision(currency)
        return numbers.format_currency(amount_minor / 10**digits, currency, locale=self.language)

    def points(self, count: int) -> str:
        """Points are points, not yen: "300ポイント", "300 points"."""
        written = numbers.format_decimal(count, locale=self.language)
        if count == 1:
            return self.gettext("%(count)s point", count=written)
        return self.gettext("%(count)s points", count=written)

    def tender_amount(self, kind: str, amount: int, currency: str) -> str:
        """What a tender paid or got back: points in points, the rest as money."""
        return self.points(amount) if kind == "points" else self.money(amount, currency)

    def reason(self, raw: str | None) -> str:
        """A service's reason field in words (its codes named in the reader's language)."""
        return reason_words(self, raw)

    def pick(self, texts: dict[str, str] | None) -> str:
        """A service's bilingual text (``{"ja": ..., "en": ...}``) in the reader's language."""
        if not texts:
            return ""
        return str(texts.get(self.language) or texts.get("en") or "")

    @property
    def zone_name(self) -> str:
        return str(self.zone.key)

    @property
    def zone_label(self) -> str:
        """The zone as a person names it: "日本時間", "Japan Time", "イギリス時間" (not "Asia/Tokyo")."""
        return self.label_of_zone(self.zone.key)

    def label_of_zone(self, key: str) -> str:
        if key in ("UTC", "Etc/UTC"):
            return self.gettext("Coordinated Universal Time (UTC)")
        return str(dates.get_timezone_name(ZoneInfo(key), locale=self.language))

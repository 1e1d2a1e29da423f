"""Which digit runs are card numbers an issuer could have printed: prefixes (IIN ranges) and lengths.

A run that passes Luhn but starts with no issuer's prefix, or has a length that issuer never uses,
is an order number, a phone number or an account number: refusing it would turn away honest
statements. Ranges follow the published IIN tables (Mastercard's 2221–2720 series since 2017,
19-digit Visa, Discover, JCB and UnionPay cards included), and the networks a store in Japan
still sees from abroad: RuPay, Dankort, Verve, Troy, Elo, UzCard and Mir.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IssuerRange:
    name: str
    low: int
    high: int
    lengths: frozenset[int]

    @property
    def prefix_digits(self) -> int:
        return len(str(self.low))

    def covers(self, digits: str) -> bool:
        if len(digits) not in self.lengths or len(digits) < self.prefix_digits:
            return False
        return self.low <= int(digits[: self.prefix_digits]) <= self.high


def _range(name: str, low: int, high: int, *lengths: int) -> IssuerRange:
    return IssuerRange(name, low, high, frozenset(lengths))


def _ranges(name: str, spans: str, *lengths: int) -> tuple[IssuerRange, ...]:
    """Ranges written as the tables print them: ``"401178, 506699-506778"``."""
    found = []
    for span in spans.split(","):
        low, _, high = span.strip().partition("-")
        found.append(_range(name, int(low), int(high or low), *lengths))
    return tuple(found)


#: Networks whose ranges sit inside a wider network's (Elo inside Visa's 4 and Discover's 65,
#: Verve inside 65, RuPay's 60 beside Discover's 6011): listed first, so a number is named after
#: the narrower network. Elo's BINs are from Elo's published table; Verve's from Interswitch's.
NARROW_RANGES: tuple[IssuerRange, ...] = (
    *_ranges(
        "elo",
        "401178-401179, 431274, 438935, 451416, 457393, 457631-457632, 504175, 5067, 506699-506778, 509000-509999,"
        "627780, 636297, 636368, 650031-650033, 650035-650051, 650405-650439, 650485-650538, 650541-650598,"
        "650700-650718, 650720-650727, 650901-650978, 651652-651679, 655000-655019, 655021-655058",
        16,
    ),
    *_ranges("verve", "506099-506198, 507865-507964, 650002-650027", 16, 18, 19),
    _range("dankort", 5019, 5019, 16),
    _range("troy", 9792, 9792, 16),
    _range("uzcard", 8600, 8600, 16),
)

ISSUER_RANGES: tuple[IssuerRange, ...] = (
    *NARROW_RANGES,
    _range("visa", 4, 4, 13, 16, 19),
    _range("mastercard", 51, 55, 16),
    _range("mastercard", 2221, 2720, 16),
    _range("amex", 34, 34, 15),
    _range("amex", 37, 37, 15),
    _range("jcb", 3528, 3589, 16, 17, 18, 19),
    _range("diners", 300, 305, 14, 15, 16, 17, 18, 19),
    _range("diners", 36, 36, 14, 15, 16, 17, 18, 19),
    _range("diners", 38, 39, 16, 17, 18, 19),
    _range("discover", 6011, 6011, 16, 17, 18, 19),
    _range("discover", 644, 649, 16, 17, 18, 19),
    _range("discover", 65, 65, 16, 17, 18, 19),
    _range("unionpay", 62, 62, 16, 17, 18, 19),
    _range("maestro", 5018, 5018, 13, 14, 15, 16, 17, 18, 19),
    _range("maestro", 5020, 5020, 13, 14, 15, 16, 17, 18, 19),
    _range("maestro", 5038, 5038, 13, 14, 15, 16, 17, 18, 19),
    _range("maestro", 6304, 6304, 13, 14, 15, 16, 17, 18, 19),
    _range("maestro", 6759, 6763, 13, 14, 15, 16, 17, 18, 19),
    _range("mir", 2200, 2204, 16, 17, 18, 19),
    # RuPay (India): its own 60, 81, 82 and 508 series; its 65 cards run on Discover's 65 (above).
    _range("rupay", 60, 60, 16),
    _range("rupay", 81, 82, 16),
    _range("rupay", 508, 508, 16),
)


def issuer_of(digits: str) -> str | None:
    """The network whose prefix and length fit ``digits``, or None."""
    for issuer in ISSUER_RANGES:
        if issuer.covers(digits):
            return issuer.name
    return None

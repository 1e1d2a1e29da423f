"""Which digit runs are card numbers an issuer could have printed: prefixes (IIN ranges) and lengths.

A run that passes Luhn but starts with no issuer's prefix, or has a length that issuer never uses,
is an order number, a phone number or an account number: refusing it would turn away honest
statements. Ranges follow the published IIN tables (Mastercard's 2221–2720 series since 2017,
19-digit Visa, Discover, JCB and UnionPay cards included).
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


ISSUER_RANGES: tuple[IssuerRange, ...] = (
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
)


def issuer_of(digits: str) -> str | None:
    """The network whose prefix and length fit ``digits``, or None."""
    for issuer in ISSUER_RANGES:
        if issuer.covers(digits):
            return issuer.name
    return None

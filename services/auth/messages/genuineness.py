"""Is a pasted mail one Mamori sent? The rules of "check a mail", as pure functions (story S3).

A reference code alone proves nothing: a phisher copies a real code from any mail of ours into
theirs. So:

* **Genuine** only when the caller is signed in and the pasted text *is* the message we filed for
  that reference code in their account: the same subject (if pasted) and the same body, compared
  after normalisation (NFKC, every whitespace dropped, so re-wrapped lines, indentation and
  full-width characters do not matter). One-time codes are masked in the stored copy
  (``••••••``); there any run of code characters matches, since only the mail itself held them.
* **Always flagged**, whoever asks and whatever the code: a sender (``From``, ``Sender``,
  ``Reply-To``, ``Return-Path``, or the Japanese header names) whose address is not at our mail
  domain, and a link to a host that is not ours (a lookalike host, ``ours.example.evil.test`` or
  ``ours.example@evil.test`` is not ours). Our mails carry no links at all, so even a link to our
  own host makes the text differ from what we sent.
* **Signed out**, a real code earns at most "we issued this code; compare the mail with your
  message centre": never "genuine", never to whom or what it said.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import getaddresses
from urllib.parse import urlsplit

#: How the message centre masks a one-time code (``messages/service.py``).
MASK = "•" * 6
#: What a masked code may have been in the mail: six digits, a revert code, a reset token.
_MASKED_VALUE = r"(?:\d{6}|[A-Z2-9]{4}(?:-[A-Z2-9]{4}){3}|[A-Za-z0-9_\-]{32,128})"

#: Sender headers read from one paste (a real mail, even forwarded twice, has a handful): a paste of
#: thousands costs no more than these.
MAX_SENDER_HEADERS = 50
#: Header names, as mail clients show them in English and Japanese (NFKC: full-width colons too).
_SENDER_HEADERS = ("from", "sender", "reply-to", "return-path", "差出人", "送信者", "返信先")
_SUBJECT_HEADERS = ("subject", "件名")
_HEADER = re.compile(
    r"^\s{0,8}([A-Za-z][A-Za-z0-9\-]{0,40}|差出人|送信者|返信先|宛先|件名|日付|送信日時)\s{0,4}:\s?(.*)$"
)
#: Links as a reader would follow them: with a scheme (obfuscated ``hxxp`` too), ``www.``, or a
#: bare host followed by a path. Bounded, so a hostile paste cannot make the search backtrack.
_LINK = re.compile(
    r"(?:(?:https?|hxxps?|ftp)://|www\.)[^\s<>\"'()\[\]{}]{1,2000}"
    r"|\b[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.){1,10}[A-Za-z]{2,24}/[^\s<>\"'()\[\]{}]{0,2000}",
    re.IGNORECASE,
)


class Verdict(str, enum.Enum):
    #: Signed in, and the pasted text is the message we sent this account.
    genuine = "genuine"
    #: Signed in, a code alone: we sent this account a message with it; compare the text.
    sent_compare = "sent_compare"
    #: Signed out: Mamori issued this code; to whom is not said; compare in the message centre.
    issued = "issued"
    #: Carries one of our codes, but from a foreign sender, with a foreign link, or another text.
    suspicious = "suspicious"
    not_ours = "not_ours"
    not_for_you = "not_for_you"


class VerdictReason(str, enum.Enum):
    text_matches = "text_matches"
    code_sent_to_you = "code_sent_to_you"
    issued_by_mamori = "issued_by_mamori"
    foreign_sender = "foreign_sender"
    foreign_link = "foreign_link"
    text_differs = "text_differs"
    no_reference_code = "no_reference_code"
    unknown_reference_code = "unknown_reference_code"
    sent_to_another_account = "sent_to_another_account"


@dataclass(frozen=True)
class PastedMail:
    """What a customer pasted, read the way its reader sees it."""

    #: Addresses named by sender headers anywhere in the paste (a forwarded mail's too).
    senders: tuple[str, ...]
    #: The pasted ``Subject`` (or 件名), if the header block has one.
    subject: str | None
    #: The text after the leading header block (the whole paste when there is none).
    body: str
    link_hosts: tuple[str, ...]


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")


def read_paste(text: str) -> PastedMail:
    """Split a paste into its leading header block (``Name: value`` lines) and the body, and
    collect every sender address (a forwarded mail's too) and link host it shows."""
    lines = _nfkc(text).split("\n")
    senders: list[str] = []
    seen_headers = 0
    for line in lines:
        header = _HEADER.match(line)
        if header and header.group(1).lower() in _SENDER_HEADERS and seen_headers < MAX_SENDER_HEADERS:
            seen_headers += 1
            senders += [address.lower() for _, address in getaddresses([header.group(2)]) if "@" in address]
    subject: str | None = None
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    while index < len(lines) and (header := _HEADER.match(lines[index])) is not None:
        if header.group(1).lower() in _SUBJECT_HEADERS:
            subject = header.group(2)
        index += 1
    return PastedMail(tuple(senders), subject, "\n".join(lines[index:]), tuple(link_hosts(_nfkc(text))))


def link_hosts(text: str) -> list[str]:
    """The host of every link in ``text`` (as the browser would reach it), in order, distinct."""
    hosts: list[str] = []
    for match in _LINK.finditer(text):
        url = match.group(0)
        url = re.sub(r"^hxxp", "http", url, flags=re.IGNORECASE)
        if "://" not in url:
            url = "http://" + url
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            host = ""
        host = host.rstrip(".").lower() or url
        if host not in hosts:
            hosts.append(host)
    return hosts


def is_own_host(host: str, own: Iterable[str]) -> bool:
    """``host`` is one of ours or a subdomain of one (``portal.mamori.example``), nothing else."""
    host = host.rstrip(".").lower()
    return any(host == item or host.endswith("." + item) for item in (o.lower().rstrip(".") for o in own) if item)


def foreign_senders(mail: PastedMail, own_domains: Iterable[str]) -> list[str]:
    domains = list(own_domains)
    return [address for address in mail.senders if not is_own_host(address.rpartition("@")[2], domains)]


def foreign_links(mail: PastedMail, own_hosts: Iterable[str]) -> list[str]:
    hosts = list(own_hosts)
    return [host for host in mail.link_hosts if not is_own_host(host, hosts)]


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", _nfkc(text))


def matches_sent(mail: PastedMail, *, subject: str, body: str) -> bool:
    """The pasted body is the stored body (masked codes match any code), and a pasted subject ours."""
    if mail.subject is not None and _squeezed(mail.subject) != _squeezed(subject):
        return False
    pattern = _MASKED_VALUE.join(re.escape(_squeezed(part)) for part in body.split(MASK))
    return re.fullmatch(pattern, _squeezed(mail.body)) is not None


@dataclass(frozen=True)
class SentMessage:
    """The message we filed under the reference code the paste carries."""

    subject: str
    body: str
    to_caller: bool


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: VerdictReason
    #: Every warning found, the reason's first (a paste may be foreign *and* differ).
    flags: tuple[VerdictReason, ...] = ()
    foreign_hosts: tuple[str, ...] = ()


def judge(
    *,
    signed_in: bool,
    known: SentMessage | None,
    any_code: bool,
    paste: PastedMail | None,
    own_domains: Iterable[str],
    own_hosts: Iterable[str],
) -> Judgement:
    """The verdict on one check.

    ``known``: the message of the paste's (or the typed) code, if we sent one; ``any_code``: the
    text carried a reference code at all; ``paste``: None when only a code was typed.
    """
    flags: list[VerdictReason] = []
    hosts: list[str] = []
    if paste is not None:
        if foreign_senders(paste, own_domains):
            flags.append(VerdictReason.foreign_sender)
        hosts = foreign_links(paste, own_hosts)
        if hosts:
            flags.append(VerdictReason.foreign_link)
    if not any_code:
        return Judgement(Verdict.not_ours, VerdictReason.no_reference_code, tuple(flags), tuple(hosts))
    if known is None:
        return Judgement(Verdict.not_ours, VerdictReason.unknown_reference_code, tuple(flags), tuple(hosts))
    if flags:
        return Judgement(Verdict.suspicious, flags[0], tuple(flags), tuple(hosts))
    if not signed_in:
        return Judgement(Verdict.issued, VerdictReason.issued_by_mamori)
    if not known.to_caller:
        return Judgement(Verdict.not_for_you, VerdictReason.sent_to_another_account)
    if paste is None:
        return Judgement(Verdict.sent_compare, VerdictReason.code_sent_to_you)
    if matches_sent(paste, subject=known.subject, body=known.body):
        return Judgement(Verdict.genuine, VerdictReason.text_matches)
    return Judgement(Verdict.suspicious, VerdictReason.text_differs, (VerdictReason.text_differs,))

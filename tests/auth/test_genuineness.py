"""The rules of "is this mail genuine?" (``messages/genuineness.py``), alone: no app, no database."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from services.auth.messages.genuineness import (
    MASK,
    SentMessage,
    Verdict,
    VerdictReason,
    foreign_links,
    foreign_senders,
    is_own_host,
    judge,
    matches_sent,
    read_paste,
)

DOMAINS = ["mamori.example"]
HOSTS = ["mamori.example", "localhost"]
SUBJECT = "Your account is temporarily locked"
BODY = (
    "Dear Hana Sato,\n\nAfter repeated failed checks we locked your account until 12:00.\n"
    "Your code:\n\n    " + MASK + "\n\n--\nReference code: MMR-ABCDE-23456\n"
    "You can check this mail is genuine in the message centre of the portal."
)
MAILED = BODY.replace(MASK, "246810")
OURS = SentMessage(subject=SUBJECT, body=BODY, to_caller=True)


def verdict(text: str | None, *, signed_in: bool = True, known: SentMessage | None = OURS) -> tuple[Verdict, str]:
    paste = read_paste(text) if text is not None else None
    judged = judge(signed_in=signed_in, known=known, any_code=True, paste=paste, own_domains=DOMAINS, own_hosts=HOSTS)
    return judged.verdict, judged.reason.value


def test_the_mail_as_sent_is_genuine_however_it_was_rewrapped_or_widened() -> None:
    pasted = f"From: Mamori <no-reply@mamori.example>\nSubject: {SUBJECT}\nDate: today\n\n{MAILED}"
    rewrapped = "\n".join(word for word in MAILED.split(" "))
    wide = MAILED.replace("12:00", "１２：００")

    assert verdict(pasted) == (Verdict.genuine, "text_matches")
    assert verdict(rewrapped) == (Verdict.genuine, "text_matches")
    assert verdict(wide) == (Verdict.genuine, "text_matches")


def test_the_issue_s_phishing_mail_with_a_real_code_is_flagged_signed_in_and_out() -> None:
    phishing = (
        "From: Mamori Security <security@mamori-support.example>\nSubject: Action needed\n\n"
        "Sign in at https://mamori.example.login-check.test/verify within 24 hours.\n"
        "Reference code: MMR-ABCDE-23456"
    )
    for signed_in in (True, False):
        judged = judge(
            signed_in=signed_in,
            known=OURS,
            any_code=True,
            paste=read_paste(phishing),
            own_domains=DOMAINS,
            own_hosts=HOSTS,
        )
        assert judged.verdict is Verdict.suspicious
        assert judged.flags == (VerdictReason.foreign_sender, VerdictReason.foreign_link)
        assert judged.foreign_hosts == ("mamori.example.login-check.test",)


def test_our_own_text_with_one_extra_line_or_another_subject_is_not_genuine() -> None:
    added = MAILED.replace("Your code:", "Call 03-1234-5678 now. Your code:")
    assert verdict(added) == (Verdict.suspicious, "text_differs")
    assert verdict(f"Subject: Urgent: verify now\n\n{MAILED}") == (Verdict.suspicious, "text_differs")
    assert verdict(MAILED + "\nhttps://mamori.example/login") == (Verdict.suspicious, "text_differs")


def test_signed_out_a_code_or_even_the_exact_text_is_never_genuine() -> None:
    assert verdict(None, signed_in=False) == (Verdict.issued, "issued_by_mamori")
    assert verdict(MAILED, signed_in=False) == (Verdict.issued, "issued_by_mamori")


def test_signed_in_a_code_alone_asks_to_compare_and_anothers_code_is_not_for_you() -> None:
    assert verdict(None) == (Verdict.sent_compare, "code_sent_to_you")
    theirs = SentMessage(subject=SUBJECT, body=BODY, to_caller=False)
    assert verdict(MAILED, known=theirs) == (Verdict.not_for_you, "sent_to_another_account")
    assert verdict(MAILED, known=None) == (Verdict.not_ours, "unknown_reference_code")


def test_sender_tricks_are_seen_through() -> None:
    tricks = [
        "From: no-reply@mamori.example <thief@evil.test>",
        "From: Mamori <no-reply@mamori.example.evil.test>",
        "Reply-To: help@evil.test",
        "差出人： Mamori <no-reply@evil.test>",
        "Ｆｒｏｍ: Mamori <no-reply@evil.test>",
        "Subject: Fwd\n\n---------- Forwarded ----------\nFrom: Mamori <x@evil.test>",
    ]
    for header in tricks:
        assert foreign_senders(read_paste(f"{header}\n\n{MAILED}"), DOMAINS), header
    for header in ("From: Mamori <no-reply@mamori.example>", "From: Mamori", "Sender: bounce@mail.mamori.example"):
        assert not foreign_senders(read_paste(f"{header}\n\n{MAILED}"), DOMAINS), header


def test_link_tricks_are_seen_through() -> None:
    tricks = {
        "https://mamori.example@evil.test/login": "evil.test",
        "hxxps://evil.test/x": "evil.test",
        "www.mamori-login.test": "www.mamori-login.test",
        "go to evil.test/verify now": "evil.test",
        "https://xn--mamri-6qa.example/": "xn--mamri-6qa.example",
        "ｈｔｔｐｓ：／／evil.test": "evil.test",
    }
    for text, host in tricks.items():
        assert foreign_links(read_paste(text), HOSTS) == [host], text
    assert foreign_links(read_paste("https://portal.mamori.example/messages and http://localhost:8000/"), HOSTS) == []


def test_own_hosts_are_ours_and_their_subdomains_only() -> None:
    assert is_own_host("mamori.example", HOSTS) and is_own_host("Portal.Mamori.Example.", HOSTS)
    assert not is_own_host("evilmamori.example", HOSTS)
    assert not is_own_host("mamori.example.evil.test", HOSTS)


def test_a_masked_code_matches_any_code_but_not_other_words() -> None:
    assert matches_sent(read_paste(BODY.replace(MASK, "ABCD-EFGH-JKMN-PQRS")), subject=SUBJECT, body=BODY)
    assert not matches_sent(read_paste(BODY.replace(MASK, "click here")), subject=SUBJECT, body=BODY)


@given(st.text(min_size=1, max_size=200).filter(lambda extra: "".join(unicodedata.normalize("NFKC", extra).split())))
def test_anything_added_to_our_text_makes_it_differ(extra: str) -> None:
    pasted = MAILED.replace("Dear Hana", f"Dear {extra} Hana")

    assert verdict(pasted)[0] is not Verdict.genuine

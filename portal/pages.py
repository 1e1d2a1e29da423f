"""Page texts of the portal, in the customer's language (Japanese first, English second)."""

from __future__ import annotations

from html import escape

TEXTS = {
    "ja": {
        "title": "Mamori アカウント保護",
        "lead": "アカウントの状態、ケース、メッセージはこのポータルで確認できます。",
        "verify": "受け取ったメールが本物か確かめるには、メッセージセンターで参照コードを確認してください。",
        "api": "API ドキュメント",
        "other": "English",
    },
    "en": {
        "title": "Mamori account protection",
        "lead": "Your account's state, your cases and every message we sent you are in this portal.",
        "verify": "To check that a mail is really from us, look its reference code up in the message centre.",
        "api": "API documentation",
        "other": "日本語",
    },
}


def preferred_language(explicit: str | None, accept_language: str | None) -> str:
    if explicit in TEXTS:
        return explicit  # type: ignore[return-value]
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in TEXTS:
            return code
    return "ja"


def landing_page(language: str) -> str:
    text = TEXTS[language]
    other = "en" if language == "ja" else "ja"
    return f"""<!doctype html>
<html lang="{language}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(text["title"])}</title></head>
<body>
<main>
<h1>{escape(text["title"])}</h1>
<p>{escape(text["lead"])}</p>
<p>{escape(text["verify"])}</p>
<p><a href="/docs">{escape(text["api"])}</a> · <a href="/?lang={other}">{escape(text["other"])}</a></p>
</main>
</body>
</html>
"""

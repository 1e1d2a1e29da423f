"""Message texts in Japanese and English, and how times and cases read in them.

Placeholders are ``str.format`` fields of Mamori's own templates. Mails carry no links to sign
in: a code is typed into the portal, never clicked. Every message gets its reference code
appended by :func:`render`, so the customer can check it is genuine.

Times: a ``datetime`` in the data is shown in the account's zone and language (:func:`format_time`),
never as bare UTC. Cases: a ``case_id`` in the data also gives ``{case_number}``, the number a
person reads aloud (:func:`mamori_common.contract.case_number`), which is what every mail shows.
Producer text of the generic ``notice`` is never formatted: its ``{something_at}`` placeholders
are replaced one by one (:func:`localise_notice`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mamori_common.contract import case_number

DEFAULT_TIME_ZONE = "Asia/Tokyo"
_ZONE_NAMES = {"Asia/Tokyo": {"ja": "日本時間", "en": "Japan time"}}


def zone_of(name: str | None) -> ZoneInfo:
    """The zone an account reads times in; Tokyo when unset or unknown."""
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def format_time(moment: datetime, language: str, time_zone: str | None = None) -> str:
    """How a time reads in a mail: the reader's zone, to the minute, with the zone named."""
    zone = zone_of(time_zone)
    local = moment.astimezone(zone)
    label = _ZONE_NAMES.get(zone.key, {}).get(language, zone.key)
    if language == "ja":
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}（{label}）"
    return f"{local:%d %b %Y, %H:%M} ({label})"


def language_of(value: object) -> str:
    """``ja`` or ``en`` for an account's language (an enum or its value); Japanese when unknown."""
    text = str(getattr(value, "value", value))
    return text if text in ("ja", "en") else "ja"


_CHANGED_THING = {
    "email": {"ja": "メールアドレス", "en": "e-mail address"},
    "password": {"ja": "パスワード", "en": "password"},
    "phone": {"ja": "電話番号", "en": "phone number"},
    "totp": {"ja": "2 段階認証（TOTP）", "en": "two-step verification (TOTP)"},
    "passkey": {"ja": "パスキー", "en": "passkeys"},
    "passkey_required": {"ja": "「パスキー必須」の設定", "en": '"passkey required" setting'},
    "sign_in": {"ja": "サインイン", "en": "sign-in"},
}
#: What a passkey notice says happened (``passkey_change`` below), by ``action``.
_PASSKEY_ACTIONS = {
    "added": {"ja": "パスキーが追加されました", "en": "a passkey was added"},
    "removed": {"ja": "パスキーが削除されました", "en": "a passkey was removed"},
    "removed_last": {
        "ja": "パスキーが削除されました。最後のパスキーだったため、「パスキー必須」の設定もオフになりました",
        "en": 'a passkey was removed. It was the last one, so "passkey required" is off now too',
    },
    "required_on": {
        "ja": "「パスキー必須」がオンになりました（パスワードだけではサインインできません）",
        "en": '"passkey required" was turned on (a password alone no longer signs in)',
    },
    "required_off": {
        "ja": "「パスキー必須」がオフになりました",
        "en": '"passkey required" was turned off',
    },
}
_RECHECK_TEXT = {
    "ja": {"payment_methods": "お支払い方法", "addresses": "住所", "subscriptions": "定期購入・サブスクリプション"},
    "en": {"payment_methods": "payment methods", "addresses": "addresses", "subscriptions": "subscriptions"},
}
_RECHECK_AFTER_NORMAL_RESET = {
    "ja": "ポータルのセッション一覧（見覚えのないものは終了してください）",
    "en": "the sessions listed in the portal (end any you do not recognise)",
}
_RESET_HELD = {"ja": "担当者の確認後", "en": "once our staff have reviewed the case"}


def changed_thing(kind: str, language: str) -> str:
    """What a change notice says changed (``email``, ``password``, ``phone``, ``totp``)."""
    return _CHANGED_THING[kind][language_of(language)]


def passkey_action(action: str, language: str) -> str:
    """What a passkey notice says happened: ``added``, ``removed``, ``removed_last``, ``required_on``, ``required_off``."""
    return _PASSKEY_ACTIONS[action][language_of(language)]


def recheck_list(items: list[str], language: str) -> str:
    """What to re-check after a reset, as one line; the sessions when nothing else is listed."""
    language = language_of(language)
    if not items:
        return _RECHECK_AFTER_NORMAL_RESET[language]
    return ("、" if language == "ja" else ", ").join(_RECHECK_TEXT[language][item] for item in items)


def reset_held_text(language: str) -> str:
    """When a held reset opens, for the freeze mail."""
    return _RESET_HELD[language_of(language)]


#: A placeholder a producer may put in a notice's texts, its ISO-8601 UTC value under the same key.
NOTICE_TIME = re.compile(r"\{([a-z_]+_at)\}")
NOTICE_TEXTS = ("subject_ja", "subject_en", "body_ja", "body_en")


def notice_time_values(data: dict[str, Any]) -> dict[str, datetime]:
    """The times a notice's texts name, parsed; ValueError names a missing or unreadable one."""
    times: dict[str, datetime] = {}
    for key in NOTICE_TEXTS:
        for name in NOTICE_TIME.findall(str(data.get(key, ""))):
            raw = data.get(name)
            if not isinstance(raw, str):
                raise ValueError(f"{name} is named in {key} but the data has no ISO-8601 time for it")
            try:
                moment = datetime.fromisoformat(raw)
            except ValueError:
                raise ValueError(f"{name} is not an ISO-8601 time") from None
            if moment.tzinfo is None:
                raise ValueError(f"{name} needs its UTC offset (e.g. 2026-11-23T09:00:00Z)")
            times[name] = moment
    return times


def localise_notice(data: dict[str, Any], time_zone: str | None) -> dict[str, Any]:
    """The notice's texts with each ``{something_at}`` in the reader's zone and the text's language."""
    times = notice_time_values(data)

    def in_language(language: str) -> Callable[[re.Match[str]], str]:
        return lambda match: format_time(times[match.group(1)], language, time_zone)

    texts = {}
    for key in NOTICE_TEXTS:
        if key in data:
            texts[key] = NOTICE_TIME.sub(in_language(key.rsplit("_", 1)[1]), str(data[key]))
    return {**data, **texts}


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


TEMPLATES: dict[str, dict[str, Template]] = {
    "login_code": {
        "ja": Template(
            "サインイン確認コード",
            "{name} 様\n\nサインインを続けるための確認コードは {code} です。有効期限は {minutes} 分です。\n"
            "お心当たりがない場合は、このコードを誰にも伝えず、パスワードを変更してください。",
        ),
        "en": Template(
            "Your sign-in code",
            "Dear {name},\n\nYour code to finish signing in is {code}. It is valid for {minutes} minutes.\n"
            "If this was not you, do not share this code with anyone and change your password.",
        ),
    },
    "unlock_code": {
        "ja": Template(
            "アカウントのロック解除コード",
            "{name} 様\n\nアカウントのロックを解除するためのコードは {code} です。有効期限は {minutes} 分です。\n"
            "ポータルでこのコードと新しいパスワードを入力してください。",
        ),
        "en": Template(
            "Your account unlock code",
            "Dear {name},\n\nYour code to unlock your account is {code}. It is valid for {minutes} minutes.\n"
            "Enter it with a new password in the portal.",
        ),
    },
    "email_change_code": {
        "ja": Template(
            "メールアドレス変更の確認コード",
            "{name} 様\n\nこのアドレスをアカウントのメールアドレスにするための確認コードは {code} です。"
            "有効期限は {minutes} 分です。",
        ),
        "en": Template(
            "Confirm your new e-mail address",
            "Dear {name},\n\nYour code to make this address your account's e-mail is {code}. "
            "It is valid for {minutes} minutes.",
        ),
    },
    "change_notice": {
        "ja": Template(
            "アカウントの{what_ja}が変更されました",
            "{name} 様\n\n{at} に、アカウントの{what_ja}が変更されました。\n"
            "お心当たりがない場合は、ポータルの「身に覚えがない変更」で次の取り消しコードを入力してください。"
            "変更を元に戻し、アカウントを保護します（{days} 日間有効）:\n\n    {revert_code}\n",
        ),
        "en": Template(
            "Your account's {what_en} was changed",
            "Dear {name},\n\nYour account's {what_en} was changed at {at}.\n"
            'If this was not you, enter this revert code in the portal under "This was not me": it undoes '
            "the change and protects your account (valid {days} days):\n\n    {revert_code}\n",
        ),
    },
    # Passkeys domain: a passkey added or removed, "passkey required" turned on or off (story S5:
    # like every change of a credential, with a revert code).
    "passkey_change": {
        "ja": Template(
            "アカウントのパスキー設定が変更されました",
            "{name} 様\n\n{at} に、アカウントで{action_ja}。\n"
            "お心当たりがない場合は、ポータルの「身に覚えがない変更」で次の取り消しコードを入力してください。"
            "この変更とその後に追加されたパスキーを取り消し、アカウントを保護します（{days} 日間有効）:\n\n"
            "    {revert_code}\n",
        ),
        "en": Template(
            "Your account's passkeys changed",
            "Dear {name},\n\nAt {at}, {action_en} on your account.\n"
            'If this was not you, enter this revert code in the portal under "This was not me": it undoes '
            "the change and removes every passkey added since, and protects your account (valid {days} days):"
            "\n\n    {revert_code}\n",
        ),
    },
    "account_frozen": {
        "ja": Template(
            "アカウントを保護のため凍結しました",
            "{name} 様\n\n{reason}\nすべてのセッションを終了し、パスワードを無効にしました。"
            "ケース番号: {case_number}\nパスワードの再設定は {reset_opens_at} から可能です。",
        ),
        "en": Template(
            "We froze your account to protect it",
            "Dear {name},\n\n{reason}\nWe ended every session and invalidated the password. Case: {case_number}\n"
            "You can reset your password from {reset_opens_at}.",
        ),
    },
    "account_locked": {
        "ja": Template(
            "アカウントを一時的にロックしました",
            "{name} 様\n\n確認に何度も失敗したため、アカウントを {until} まで一時的にロックしました。"
            "ケース番号: {case_number}\nご本人であれば、ポータルの「ロック解除」からメールのコードと新しいパスワードで"
            "すぐに解除できます。",
        ),
        "en": Template(
            "Your account is temporarily locked",
            "Dear {name},\n\nAfter repeated failed checks we locked your account until {until}. Case: {case_number}\n"
            'If this is you, unlock it right away under "Unlock" in the portal with a mailed code and a new '
            "password.",
        ),
    },
    "registration_attempt": {
        "ja": Template(
            "このメールアドレスでの新規登録がありました",
            "{name} 様\n\n{at} に、このメールアドレスで新しいアカウントを登録しようとする操作がありました。"
            "このアドレスにはすでにお客様のアカウントがあるため、新しいアカウントは作成していません。\n"
            "ご自身の操作であれば、ポータルでいつものパスワードでサインインするか、パスワードを忘れた場合は"
            "「パスワード再設定」をご利用ください。お心当たりがない場合は、このメールを無視してください。"
            "アカウントは変更されていません。",
        ),
        "en": Template(
            "Someone tried to register with your address",
            "Dear {name},\n\nAt {at} someone tried to register a new account with this e-mail address. You "
            "already have an account here, so no new one was made.\n"
            'If this was you, sign in to the portal with your password, or use "Reset password" if you forgot '
            "it. If it was not you, ignore this mail: nothing in your account changed.",
        ),
    },
    "new_sign_in": {
        "ja": Template(
            "新しい場所からのサインイン",
            "{name} 様\n\n{at} に、新しい端末または国・地域（{country}）からサインインがありました。\n"
            "お心当たりがない場合は、サインインしなくても、ポータルの「身に覚えがない変更」で次のコードを入力してください。"
            "そのセッションを終了し、その後の変更を取り消し、そのセッションからのご注文を保留して、アカウントを保護します"
            "（{days} 日間有効）:\n\n    {revert_code}\n",
        ),
        "en": Template(
            "A sign-in from somewhere new",
            "Dear {name},\n\nSomeone signed in to your account at {at} from a new device or country ({country}).\n"
            'If this was not you, enter this code in the portal under "This was not me", no sign-in needed: it '
            "ends that session, undoes every change made since, holds its orders and protects your account "
            "(valid {days} days):\n\n    {revert_code}\n",
        ),
    },
    "password_reset": {
        "ja": Template(
            "パスワード再設定コード",
            "{name} 様\n\nパスワードを再設定するには、ポータルの再設定ページで次のコードを入力してください"
            "（{minutes} 分間有効、1 回のみ）:\n\n    {token}\n\nお心当たりがない場合は、このメールを無視してください。",
        ),
        "en": Template(
            "Your password reset code",
            "Dear {name},\n\nTo reset your password, enter this code on the portal's reset page (valid "
            "{minutes} minutes, once):\n\n    {token}\n\nIf this was not you, ignore this mail.",
        ),
    },
    "password_reset_done": {
        "ja": Template(
            "パスワードを再設定しました",
            "{name} 様\n\nパスワードを再設定しました。回復後、次の項目をご確認ください: {recheck}",
        ),
        "en": Template(
            "Your password was reset",
            "Dear {name},\n\nYour password was reset. Now that you are back in, please re-check: {recheck}",
        ),
    },
    # Sessions/TOTP domain: a refresh token presented twice ended a session.
    "refresh_token_reused": {
        "ja": Template(
            "安全のためセッションを終了しました",
            "{name} 様\n\n{at} に、同じ更新トークンが 2 回使われたため、そのセッション（{device}）を終了しました。"
            "第三者がトークンを入手した可能性があります。\n"
            "もう一度サインインしてください。ポータルで見覚えのないセッションを終了し、パスワードを変更してください。",
        ),
        "en": Template(
            "We ended a session to protect your account",
            "Dear {name},\n\nAt {at} the same refresh token was used twice, so we ended that session ({device}). "
            "Someone else may have obtained it.\n"
            "Sign in again, end any session you do not recognise in the portal, and change your password.",
        ),
    },
    # Changes domain: a reset asked for while the account is frozen and cooling down (story S5).
    # Mailed to the owner instead of a token, so whoever typed the address learns nothing.
    "reset_cooldown": {
        "ja": Template(
            "パスワード再設定はまだできません",
            "{name} 様\n\nパスワード再設定のご依頼を受け付けましたが、アカウントは保護のため凍結中です"
            "（ケース番号: {case_number}）。\n再設定は {opens_at} から可能になります。その時刻以降にもう一度お試しください。\n"
            "お心当たりがない場合は、このメールを無視してください。",
        ),
        "en": Template(
            "Your password reset is not open yet",
            "Dear {name},\n\nWe received a request to reset your password, but your account is frozen to protect "
            "it (case {case_number}).\nThe reset opens at {opens_at}. Please ask again from then on.\n"
            "If this was not you, ignore this mail.",
        ),
    },
    "reset_held": {
        "ja": Template(
            "パスワード再設定は担当者の確認後に可能になります",
            "{name} 様\n\nパスワード再設定のご依頼を受け付けましたが、アカウントは保護のため凍結中で、"
            "担当者が確認するまで再設定はできません（ケース番号: {case_number}）。確認が済み次第お知らせします。",
        ),
        "en": Template(
            "Your password reset opens after a review",
            "Dear {name},\n\nWe received a request to reset your password, but your account is frozen to protect "
            "it and the reset opens only after our staff reviewed case {case_number}. We will tell you as soon as it "
            "is open.",
        ),
    },
    "notice": {
        "ja": Template("{subject_ja}", "{name} 様\n\n{body_ja}"),
        "en": Template("{subject_en}", "Dear {name},\n\n{body_en}"),
    },
}

FOOTER = {
    "ja": "\n\n--\n参照コード: {reference_code}\nこのメールが本物かどうかは、ポータルのメッセージセンターで確認できます。"
    "このメールにサインイン用のリンクは含まれていません。",
    "en": "\n\n--\nReference code: {reference_code}\nYou can check this mail is genuine in the message centre of "
    "the portal. We never put sign-in links in our mails.",
}


def localise(template: str, language: str, data: dict[str, Any], time_zone: str | None) -> dict[str, Any]:
    """The fields as the reader reads them: times in their zone and language, the case's number."""
    fields = {
        key: format_time(value, language, time_zone) if isinstance(value, datetime) else value
        for key, value in data.items()
    }
    if fields.get("case_id") and "case_number" not in fields:
        fields["case_number"] = case_number(str(fields["case_id"]))
    if template == "notice":
        fields = localise_notice(fields, time_zone)
    return fields


def render(
    template: str, language: str, data: dict[str, Any], reference_code: str, time_zone: str | None = None
) -> tuple[str, str]:
    """The subject and body of ``template`` in ``language`` (Japanese when the language is unknown)."""
    texts = TEMPLATES[template]
    chosen = texts.get(language) or texts["ja"]
    fields = localise(template, language, data, time_zone)
    subject = chosen.subject.format(**fields)
    body = chosen.body.format(**fields) + FOOTER.get(language, FOOTER["ja"]).format(reference_code=reference_code)
    return subject, body

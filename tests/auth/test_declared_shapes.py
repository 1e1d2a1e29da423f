"""Auth's OpenAPI says the rules its bodies are held to, not only their fields: a step-up answer's
shape follows its method, a mail is checked by its code or by its text (one of the two), a
passkey's name holds no control characters. A client built from the document sends nothing the
server refuses for its shape."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.auth.passkeys.schemas import RenamePasskeyRequest, name_pattern
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness


def _body_schema(auth: AuthHarness, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    document = auth.client.get("/openapi.json").json()
    schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return document, schema


def _resolve(document: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    return document["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def test_a_step_up_answer_is_declared_per_method(auth: AuthHarness) -> None:
    document, schema = _body_schema(auth, "/api/auth/challenges/complete")
    shapes = {
        tuple(sorted(_resolve(document, ref)["properties"]["method"].get("enum", [])))
        or (_resolve(document, ref)["properties"]["method"].get("const"),): _resolve(document, ref)
        for ref in schema["oneOf"]
    }
    code = shapes[("email_code", "recovery_code", "totp")]
    passkey = shapes[("passkey",)]
    assert set(code["required"]) == {"challenge_id", "method", "code"} and "credential" not in code["properties"]
    assert set(passkey["required"]) == {"challenge_id", "method", "credential"} and "code" not in passkey["properties"]
    assert code["additionalProperties"] is False and passkey["additionalProperties"] is False


def test_an_answer_of_the_wrong_shape_for_its_method_is_refused(auth: AuthHarness) -> None:
    auth.register("shape@example.com")
    mixed = {"challenge_id": "c-1", "method": "email_code", "code": "123456", "credential": {"id": "x"}}
    refused = auth.call("POST", "/api/auth/challenges/complete", json=mixed)
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_error")
    login = auth.call("POST", "/api/auth/login", json={"email": "shape@example.com", "password": STRONG_PASSWORD})
    assert login.status_code == 200


def test_a_mail_is_checked_by_its_code_or_by_its_text_never_both(auth: AuthHarness) -> None:
    document, schema = _body_schema(auth, "/api/auth/messages/verify")
    shapes = [_resolve(document, ref) for ref in schema["anyOf"]]
    assert sorted(tuple(shape["required"]) for shape in shapes) == [("reference_code",), ("text",)]
    assert all(shape["additionalProperties"] is False for shape in shapes)

    both = auth.call("POST", "/api/auth/messages/verify", json={"reference_code": "MMR-ABCDE-FGHJK", "text": ""})
    assert both.status_code == 422
    by_code = auth.call("POST", "/api/auth/messages/verify", json={"reference_code": "MMR-ABCDE-FGHJK"})
    assert by_code.status_code == 200, by_code.text


_NAMES = st.text(
    alphabet=st.sampled_from([*"ab é", "\t", "\n", "\u2028", "\u200b", "\x00", "\u3000", "\u00a0", "\x1c", "\ufeff"]),
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(name=_NAMES)
def test_the_declared_passkey_name_pattern_is_exactly_what_is_accepted(name: str) -> None:
    try:
        RenamePasskeyRequest(name=name)
        accepted = True
    except ValueError:
        accepted = False
    assert (re.fullmatch(name_pattern(), name) is not None) is accepted

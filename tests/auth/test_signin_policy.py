"""The sign-in rules (services/auth/signin/policy.py) on their own: delays, step-ups, locks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.auth.accounts.models import Account, AccountState, Role
from services.auth.accounts.standing import lock_in_force
from services.auth.config import AuthSettings
from services.auth.signin import policy
from services.auth.signin.policy import Action, Enrolled, Proof, StepUpReason
from services.auth.signin.risk import RiskSignals

#: The numbers these rules are read against, stated here: the environment (MAMORI_*) must not
#: change what a test expects.
SETTINGS = AuthSettings.model_construct(
    **{name: field.default for name, field in AuthSettings.model_fields.items() if field.default is not None},
).model_copy(
    update={
        "lock_seconds": 900,
        "lock_max_seconds": 3600,
        "throttle_client_free_failures": 5,
        "throttle_client_base_delay_seconds": 2,
    }
)
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KNOWN = RiskSignals(has_baseline=True, known_device=True, known_ip=True)


def account(**fields: object) -> Account:
    values: dict[str, object] = {
        "email": "hana@example.com",
        "name": "Hana Sato",
        "state": AccountState.active,
        "failure_streak": 0,
        "failed_step_ups": 0,
        "lock_count": 0,
        "role": Role.customer,
        **fields,
    }
    return Account(**values)


def decide(
    target: Account | None, *, password_ok: bool = True, signals: RiskSignals = KNOWN, foreign: int = 0
) -> policy.Decision:
    return policy.decide_sign_in(
        target, password_ok=password_ok, signals=signals, foreign_failures=foreign, now=NOW, settings=SETTINGS
    )


# -- client delays -------------------------------------------------------------------------------


def test_client_delay_starts_after_the_free_failures_and_doubles() -> None:
    free = SETTINGS.throttle_client_free_failures
    base = SETTINGS.throttle_client_base_delay_seconds
    assert [policy.client_delay_seconds(n, SETTINGS) for n in range(free + 1)] == [0] * (free + 1)
    assert [policy.client_delay_seconds(free + n, SETTINGS) for n in (1, 2, 3, 4)] == [
        base,
        2 * base,
        4 * base,
        8 * base,
    ]


@given(st.integers(min_value=0, max_value=10_000))
def test_client_delay_never_exceeds_the_maximum(failures: int) -> None:
    delay = policy.client_delay_seconds(failures, SETTINGS)
    assert 0 <= delay <= SETTINGS.throttle_client_max_delay_seconds


@given(st.integers(min_value=0, max_value=500))
def test_client_delay_never_shrinks_with_more_failures(failures: int) -> None:
    assert policy.client_delay_seconds(failures + 1, SETTINGS) >= policy.client_delay_seconds(failures, SETTINGS)


# -- locks ---------------------------------------------------------------------------------------


def test_lock_doubles_with_each_lock_since_the_last_sign_in_up_to_the_maximum() -> None:
    durations = [policy.lock_duration(account(lock_count=n), SETTINGS).total_seconds() for n in range(5)]
    assert durations == [900, 1800, 3600, 3600, 3600]  # lock_seconds 900 doubling, capped at 3600


@given(st.integers(min_value=0, max_value=10**6))
def test_no_lock_is_ever_longer_than_the_maximum(locks: int) -> None:
    assert policy.lock_duration(account(lock_count=locks), SETTINGS) <= timedelta(seconds=SETTINGS.lock_max_seconds)


def test_a_lock_ends_by_itself_at_locked_until() -> None:
    locked = account(locked_until=NOW + timedelta(seconds=1))
    assert lock_in_force(locked, NOW)
    assert not lock_in_force(locked, NOW + timedelta(seconds=1))


def test_only_failed_step_ups_lock() -> None:
    assert not policy.should_lock(SETTINGS.lock_after_failed_step_ups - 1, SETTINGS)
    assert policy.should_lock(SETTINGS.lock_after_failed_step_ups, SETTINGS)


# -- the sign-in decision ------------------------------------------------------------------------


def test_unknown_address_and_wrong_password_get_the_same_rejection() -> None:
    assert decide(None).action is Action.reject
    assert decide(account(), password_ok=False).action is Action.reject


def test_right_password_from_a_known_client_of_a_quiet_account_signs_in() -> None:
    assert decide(account()).action is Action.allow


def test_a_frozen_account_is_rejected_like_a_wrong_password() -> None:
    assert decide(account(state=AccountState.frozen)).action is Action.reject


def test_a_closed_account_is_told_so_and_an_active_one_signs_in() -> None:
    """Restrictions are not the policy's input: a restricted account signs in (test_account_standing)."""
    assert decide(account(state=AccountState.active)).action is Action.allow
    assert decide(account(state=AccountState.closed)).action is Action.closed


def test_a_lock_shows_only_to_the_right_password() -> None:
    locked = account(locked_until=NOW + timedelta(minutes=5))
    assert decide(locked).action is Action.locked
    assert decide(locked, password_ok=False).action is Action.reject


def test_failures_from_unseen_clients_ask_even_the_owner_for_a_step_up() -> None:
    quiet = decide(account(), foreign=SETTINGS.step_up_after_account_failures - 1)
    attacked = decide(account(), foreign=SETTINGS.step_up_after_account_failures)
    assert quiet.action is Action.allow
    assert attacked.action is Action.step_up and StepUpReason.under_attack in attacked.reasons


def test_new_device_or_new_country_needs_a_step_up() -> None:
    device = decide(account(), signals=RiskSignals(has_baseline=True, new_device=True))
    country = decide(account(), signals=RiskSignals(has_baseline=True, known_ip=True, new_country=True))
    assert device.reasons == (StepUpReason.new_device,)
    assert country.reasons == (StepUpReason.new_country,)


def test_failed_step_ups_or_an_earlier_lock_need_a_step_up_next_time() -> None:
    assert decide(account(failed_step_ups=1)).action is Action.step_up
    assert decide(account(lock_count=1, locked_until=NOW - timedelta(seconds=1))).action is Action.step_up


def test_totp_is_asked_on_devices_the_account_does_not_know() -> None:
    enrolled = account(totp_enabled_at=NOW)
    assert decide(enrolled).action is Action.allow
    unknown_device = decide(enrolled, signals=RiskSignals(has_baseline=True, known_ip=True))
    assert unknown_device.reasons == (StepUpReason.second_factor,)
    password = frozenset({Proof.password})
    assert policy.methods_owed(password, Enrolled(totp=True), risky=True) == ["totp", "recovery_code"]
    assert policy.methods_owed(password | {Proof.remembered_device}, Enrolled(totp=True), risky=False) == []


def test_staff_step_up_on_every_sign_in_with_a_passkey_or_totp_never_a_mailed_code() -> None:
    for role in (Role.specialist, Role.support, Role.admin):
        with_totp = account(role=role, totp_enabled_at=NOW)
        assert decide(with_totp, signals=KNOWN).reasons == (StepUpReason.staff,), "even the known device"
        password, remembered = frozenset({Proof.password}), frozenset({Proof.password, Proof.remembered_device})
        assert policy.methods_owed(password, Enrolled(totp=True, staff=True), risky=True) == ["totp", "recovery_code"]
        assert policy.methods_owed(remembered, Enrolled(totp=True, staff=True), risky=False) != []
        assert policy.methods_owed(password | {Proof.mailbox}, Enrolled(passkey=True, staff=True), risky=True) == [
            "passkey"
        ]
        assert policy.methods_owed(password, Enrolled(staff=True), risky=True) == [policy.ENROL], "enrolment only"
        assert policy.methods_owed(password | {Proof.totp}, Enrolled(totp=True, staff=True), risky=True) == []


def test_a_remembered_device_never_waives_totp_at_a_new_address_or_country() -> None:
    enrolled = account(totp_enabled_at=NOW)
    new_address = decide(enrolled, signals=RiskSignals(has_baseline=True, known_device=True))
    assert new_address.reasons == (StepUpReason.second_factor,)
    new_country = decide(enrolled, signals=RiskSignals(has_baseline=True, known_device=True, new_country=True))
    assert StepUpReason.second_factor in new_country.reasons
    assert decide(enrolled, signals=KNOWN).action is Action.allow  # the owner's device, at home


def test_past_the_consecutive_failure_limit_every_password_gets_the_same_challenge() -> None:
    guarded = account(failure_streak=SETTINGS.max_consecutive_failures)
    right, wrong = decide(guarded), decide(guarded, password_ok=False)
    assert right.action is wrong.action is Action.step_up
    assert right.reasons == wrong.reasons == (StepUpReason.consecutive_failures,)
    assert right.password_ok and not wrong.password_ok
    below = account(failure_streak=SETTINGS.max_consecutive_failures - 1)
    assert decide(below, password_ok=False).action is Action.reject


def test_an_unknown_address_past_the_same_limit_gets_the_same_decision_as_a_guarded_wrong_password() -> None:
    limit = SETTINGS.max_consecutive_failures
    decoy = policy.decide_sign_in(
        None,
        password_ok=False,
        signals=KNOWN,
        foreign_failures=0,
        now=NOW,
        settings=SETTINGS,
        unknown_address_failures=limit,
    )
    assert decoy == decide(account(failure_streak=limit), password_ok=False)
    below = policy.decide_sign_in(
        None,
        password_ok=False,
        signals=KNOWN,
        foreign_failures=0,
        now=NOW,
        settings=SETTINGS,
        unknown_address_failures=limit - 1,
    )
    assert below == decide(account(failure_streak=limit - 1), password_ok=False)


@given(
    streak=st.integers(min_value=0, max_value=1000),
    password_ok=st.booleans(),
    foreign=st.integers(min_value=0, max_value=1000),
    new_device=st.booleans(),
    new_country=st.booleans(),
)
def test_a_wrong_password_never_signs_in_and_guarded_accounts_give_no_verdict(
    streak: int, password_ok: bool, foreign: int, new_device: bool, new_country: bool
) -> None:
    signals = RiskSignals(has_baseline=True, new_device=new_device, new_country=new_country)
    decision = decide(account(failure_streak=streak), password_ok=password_ok, signals=signals, foreign=foreign)
    if not password_ok:
        assert decision.action is not Action.allow
    if streak >= SETTINGS.max_consecutive_failures:
        assert decision.action is Action.step_up  # the same answer, right password or wrong


# -- passkeys ------------------------------------------------------------------------------------


def test_an_account_with_a_passkey_is_offered_it_first_then_its_other_factors_never_the_mailbox() -> None:
    owed = policy.methods_owed
    password = frozenset({Proof.password})
    assert owed(password, Enrolled(passkey=True), risky=True) == ["passkey"]
    assert owed(password, Enrolled(passkey=True, recovery_codes=True), risky=True) == ["passkey", "recovery_code"]
    assert owed(password, Enrolled(passkey=True, totp=True), risky=True) == ["passkey", "totp", "recovery_code"]
    assert owed(password, Enrolled(), risky=True) == ["email_code"]
    assert owed(password, Enrolled(), risky=False) == []


def test_passkey_required_makes_even_a_known_client_step_up_with_the_passkey_or_a_recovery_code() -> None:
    required = account(passkey_required=True)
    decision = decide(required)
    assert decision.action is Action.step_up and decision.reasons == (StepUpReason.passkey_required,)
    both = Enrolled(passkey=True, passkey_required=True, totp=True)
    remembered = frozenset({Proof.password, Proof.remembered_device, Proof.mailbox, Proof.totp})
    assert policy.methods_owed(remembered, both, risky=False) == ["passkey", "recovery_code"]
    assert policy.methods_owed(remembered | {Proof.recovery_code}, both, risky=True) == []


@given(
    st.sets(st.sampled_from([Proof.password, Proof.mailbox, Proof.remembered_device])),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_with_a_second_factor_enrolled_the_mailbox_and_the_password_never_suffice_on_a_risky_sign_in(
    proofs: set[Proof], totp: bool, passkey: bool, required: bool
) -> None:
    enrolled = Enrolled(totp=totp, passkey=passkey or required or not totp, passkey_required=required)
    owed = policy.methods_owed(frozenset(proofs), enrolled, risky=True)
    assert owed and "email_code" not in owed
    for method in owed:  # and each method it asks for completes the sign-in
        assert policy.methods_owed(frozenset(proofs) | {policy.METHOD_PROOFS[method]}, enrolled, risky=True) == []


def test_passkey_required_changes_no_other_answer() -> None:
    assert decide(account(passkey_required=True), password_ok=False).action is Action.reject
    assert decide(account(passkey_required=True, state=AccountState.closed)).action is Action.closed
    assert decide(account(passkey_required=True, locked_until=NOW + timedelta(minutes=5))).action is Action.locked


@given(
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(min_value=0, max_value=SETTINGS.step_up_after_account_failures + 2),
)
def test_with_passkey_required_the_right_password_never_signs_in_alone(
    known_device: bool, new_country: bool, totp: bool, foreign: int
) -> None:
    signals = RiskSignals(has_baseline=True, known_device=known_device, known_ip=True, new_country=new_country)
    target = account(passkey_required=True, totp_enabled_at=NOW if totp else None)
    decision = decide(target, signals=signals, foreign=foreign)
    assert decision.action is Action.step_up
    assert decision.reasons  # a risky sign-in: the door owes the passkey or a recovery code

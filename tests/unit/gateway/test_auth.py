"""Tokens, secrets and the principal behind a request (services.gateway.auth)."""
from __future__ import annotations

import pytest

from seedwork.caller import PLATFORM, Caller
from services.gateway.auth import PLATFORM_KEY_ENV, TOKEN_SECRET_ENV, MissingSecret, Secrets, bearer, new_token_id

PLATFORM_KEY = "platform-key-for-tests"


def secrets_with(platform_key: str | None = PLATFORM_KEY, token_secret: str | None = None) -> Secrets:
    env = {}
    if platform_key is not None:
        env[PLATFORM_KEY_ENV] = platform_key
    if token_secret is not None:
        env[TOKEN_SECRET_ENV] = token_secret
    return Secrets(env)


# --- a token the gateway signed comes back as its id -------------------------------


def test_a_signed_token_gives_back_its_id():
    secrets = secrets_with()
    token = secrets.token_for("tok_abc123")
    assert token.startswith("tok_abc123.")
    assert secrets.token_id_of(token) == "tok_abc123"


def test_new_token_ids_are_distinct_and_survive_the_round_trip():
    secrets = secrets_with()
    ids = {new_token_id() for _ in range(20)}
    assert len(ids) == 20
    for token_id in ids:
        assert token_id.startswith("tok_") and "." not in token_id
        assert secrets.token_id_of(secrets.token_for(token_id)) == token_id


def test_signing_is_deterministic_for_one_secret():
    assert secrets_with().token_for("tok_1") == secrets_with().token_for("tok_1")


# --- anything forged or malformed is None ---------------------------------------------


def test_a_forged_signature_is_refused():
    secrets = secrets_with()
    token_id, _, signature = secrets.token_for("tok_abc").partition(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert secrets.token_id_of(f"{token_id}.{flipped}") is None
    assert secrets.token_id_of(f"{token_id}.") is None


def test_a_signature_moved_to_another_id_is_refused():
    secrets = secrets_with()
    signature = secrets.token_for("tok_mine").partition(".")[2]
    assert secrets.token_id_of(f"tok_yours.{signature}") is None


def test_a_token_signed_with_another_secret_is_refused():
    theirs = secrets_with("someone-elses-platform-key").token_for("tok_abc")
    assert secrets_with().token_id_of(theirs) is None


def test_a_token_without_a_dot_is_refused():
    secrets = secrets_with()
    token = secrets.token_for("tok_abc")
    assert secrets.token_id_of(token.replace(".", "")) is None
    assert secrets.token_id_of("tok_abc") is None
    assert secrets.token_id_of("") is None


def test_a_genuinely_signed_empty_id_is_still_refused():
    secrets = secrets_with()
    token = secrets.token_for("")  # ".<valid signature of the empty string>"
    assert token.startswith(".")
    assert secrets.token_id_of(token) is None


def test_an_over_long_token_is_refused_even_when_genuine():
    secrets = secrets_with()
    signature_length = len(secrets.token_for("x")) - 2
    longest_id = "t" * (200 - 1 - signature_length)
    assert len(secrets.token_for(longest_id)) == 200
    assert secrets.token_id_of(secrets.token_for(longest_id)) == longest_id
    assert secrets.token_id_of(secrets.token_for(longest_id + "t")) is None


def test_a_non_ascii_token_is_refused_not_an_error():
    assert secrets_with().token_id_of("tök_abc.sïgnature") is None


# --- the platform key ---------------------------------------------------------------


def test_the_platform_key_is_recognised_and_nothing_else_is():
    secrets = secrets_with()
    assert secrets.is_platform_key(PLATFORM_KEY)
    assert not secrets.is_platform_key(PLATFORM_KEY + "x")
    assert not secrets.is_platform_key(PLATFORM_KEY[:-1])
    assert not secrets.is_platform_key("")
    assert not secrets.is_platform_key("ключ")


def test_without_a_platform_key_nothing_is_the_platform_key():
    secrets = secrets_with(platform_key=None, token_secret="signing-only")
    assert not secrets.is_platform_key("")
    assert not secrets.is_platform_key("signing-only")


# --- where the signing key comes from -------------------------------------------------


def test_the_signing_key_is_derived_from_the_platform_key_when_no_token_secret_is_set():
    derived = secrets_with(PLATFORM_KEY)
    # Derived, not the platform key itself used as the signing key.
    assert derived.token_for("tok_1") != secrets_with(None, token_secret=PLATFORM_KEY).token_for("tok_1")
    assert derived.token_for("tok_1") != secrets_with("another-platform-key").token_for("tok_1")


def test_a_token_secret_replaces_the_derived_key():
    derived = secrets_with(PLATFORM_KEY)
    separate = secrets_with(PLATFORM_KEY, token_secret="token-secret")
    assert separate.token_for("tok_1") != derived.token_for("tok_1")
    assert derived.token_id_of(separate.token_for("tok_1")) is None


def test_with_a_token_secret_the_platform_key_can_rotate_without_invalidating_tokens():
    before = secrets_with("old-platform-key", token_secret="token-secret")
    after = secrets_with("new-platform-key", token_secret="token-secret")
    assert after.token_id_of(before.token_for("tok_1")) == "tok_1"
    assert not after.is_platform_key("old-platform-key")


def test_a_token_secret_alone_is_enough_to_sign():
    secrets = secrets_with(platform_key=None, token_secret="token-secret")
    assert secrets.token_id_of(secrets.token_for("tok_1")) == "tok_1"


@pytest.mark.parametrize("env", [{}, {PLATFORM_KEY_ENV: "", TOKEN_SECRET_ENV: ""}, {"UNRELATED": "x"}],
                         ids=["nothing", "empty", "unrelated"])
def test_no_secret_at_all_is_refused_at_start(env):
    with pytest.raises(MissingSecret, match=PLATFORM_KEY_ENV):
        Secrets(env)


def test_secrets_read_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv(PLATFORM_KEY_ENV, "from-the-environment")
    monkeypatch.delenv(TOKEN_SECRET_ENV, raising=False)
    assert Secrets().is_platform_key("from-the-environment")


# --- the Authorization header --------------------------------------------------------


@pytest.mark.parametrize("header", ["Bearer tok_1.sig", "bearer tok_1.sig", "BEARER tok_1.sig",
                                    "Bearer  tok_1.sig ", "BeArEr tok_1.sig"])
def test_a_bearer_header_gives_its_token_whatever_the_scheme_case(header):
    assert bearer(header) == "tok_1.sig"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz",
                                    "Token tok_1.sig", "tok_1.sig", "Bearertok_1.sig"])
def test_no_token_from_a_missing_empty_or_other_scheme_header(header):
    assert bearer(header) is None


# --- the caller a token names ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin", "agent"])
def test_owners_admins_and_agents_are_staff(role):
    assert Caller("agent", "agt_1", "store-1", role).is_staff


@pytest.mark.parametrize("principal", [Caller("customer", "cus_1", "store-1", "customer"), PLATFORM])
def test_customers_and_the_platform_are_not_staff(principal):
    assert not principal.is_staff


def test_the_caller_sent_to_services_names_store_kind_id_and_role():
    principal = Caller("agent", "agt_1", "store-1", "admin")
    assert principal.to_dict() == {"store_id": "store-1", "kind": "agent", "id": "agt_1", "role": "admin"}


def test_the_platform_belongs_to_no_store():
    assert PLATFORM.to_dict() == {"store_id": None, "kind": "platform", "id": None, "role": "platform"}


def test_a_principal_cannot_be_changed_after_authentication():
    principal = Caller("customer", "cus_1", "store-1", "customer")
    with pytest.raises(AttributeError):
        principal.role = "owner"  # type: ignore[misc]

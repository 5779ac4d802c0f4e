"""The pure core of verified visitor identity (chatiq/core/identity.py) and the join frame's
`user` field (chatiq/core/protocol.py), without a server."""

import hashlib
import hmac

import pytest

from chatiq.core import identity, protocol
from chatiq.core.protocol import Frame, ProtocolError

SECRET = "a" * 64
SPECS = protocol.frame_specs(10_000)["visitor"]


def good_user(**over) -> dict:
    user = {"id": "cust-42", "name": "Taras", "email": "taras@example.com",
            "hash": hmac.new(SECRET.encode(), b"cust-42", hashlib.sha256).hexdigest()}
    return {**user, **over}


def join(data: dict) -> dict:
    return protocol.validate(Frame("visitor:join", {"siteKey": "k", **data}, None), SPECS)


def test_sign_is_hex_hmac_sha256_of_the_id_as_the_docs_say():
    expected = hmac.new(b"s3cret", "клієнт-1".encode(), hashlib.sha256).hexdigest()
    assert identity.sign("s3cret", "клієнт-1") == expected


def test_new_secrets_are_long_and_unique():
    first, second = identity.new_secret(), identity.new_secret()
    assert len(first) == 64 and int(first, 16) >= 0 and first != second


@pytest.mark.parametrize("given, ok", [
    (identity.sign(SECRET, "cust-42"), True),
    (identity.sign(SECRET, "cust-42").upper(), True),
    (identity.sign(SECRET, "cust-43"), False),          # another customer's hash
    (identity.sign("b" * 64, "cust-42"), False),        # another site's secret
    (identity.sign(SECRET, "cust-42")[:-1], False),     # truncated
    ("", False),
    ("ж" * 64, False),                                  # non-ASCII: no TypeError
    ("\ud800" * 3, False),                              # a lone surrogate: no crash either
])
def test_verify(given, ok):
    assert identity.verify(SECRET, "cust-42", given) is ok


def test_decide_verified_identity():
    decision = identity.decide(SECRET, True, good_user())
    assert decision == identity.Decision(user_id="cust-42")


def test_decide_anonymous_is_fine_unless_enforced():
    assert identity.decide(SECRET, False, None) == identity.Decision()
    assert identity.decide(None, False, None) == identity.Decision()
    refused = identity.decide(SECRET, True, None)
    assert refused.refuse and refused.user_id is None
    assert refused.error.code == "unauthorized" and refused.error.field == "user"


@pytest.mark.parametrize("enforce", [False, True])
def test_decide_bad_hash_is_reported_and_refused_only_when_enforced(enforce):
    decision = identity.decide(SECRET, enforce, good_user(hash="0" * 64))
    assert decision.user_id is None and decision.refuse is enforce
    assert decision.error.data() == {"code": "unauthorized", "field": "user.hash",
                                     "message": "the identity's hash does not verify for this site"}


def test_decide_without_a_secret_yet_verifies_nothing():
    decision = identity.decide(None, False, good_user())
    assert decision.user_id is None and not decision.refuse
    assert "no identity secret" in decision.error.message


def test_join_frame_accepts_an_optional_user():
    data = join({"user": good_user(name="  Taras  ")})
    assert data["user"] == {**good_user(), "name": "Taras"}
    assert "user" not in join({})
    assert "user" not in join({"user": None})
    assert join({"user": {"id": "1", "hash": "x", "extra": 1}})["user"] == {"id": "1", "hash": "x"}


@pytest.mark.parametrize("user, code, field", [
    ("cust-42", "bad_frame", "user"),
    ([1, 2], "bad_frame", "user"),
    ({"id": 42, "hash": "x"}, "bad_frame", "user.id"),
    ({"id": "1", "hash": ["x"]}, "bad_frame", "user.hash"),
    ({"id": "1", "hash": "x", "name": {"a": 1}}, "bad_frame", "user.name"),
    ({"id": "1", "hash": "x", "email": False}, "bad_frame", "user.email"),
    ({"hash": "x"}, "invalid", "user.id"),
    ({"id": "1"}, "invalid", "user.hash"),
    ({"id": "", "hash": "x"}, "invalid", "user.id"),
    ({"id": "x" * 256, "hash": "x"}, "too_large", "user.id"),
    ({"id": "1", "hash": "f" * 129}, "too_large", "user.hash"),
    ({"id": "1", "hash": "x", "name": "n" * 201}, "too_large", "user.name"),
    ({"id": "1", "hash": "x", "email": "e" * 255}, "too_large", "user.email"),
    ({"id": "a\x00b", "hash": "x"}, "invalid", "user.id"),
])
def test_join_frame_refuses_a_malformed_user_naming_the_field(user, code, field):
    with pytest.raises(ProtocolError) as caught:
        join({"user": user})
    assert (caught.value.code, caught.value.field) == (code, field)
    assert f"'{field}'" in caught.value.message


def test_the_user_field_is_described_in_the_schema():
    schema = protocol.object_schema(SPECS["visitor:join"])["properties"]["user"]
    assert schema["type"] == "object" and schema["required"] == ["id", "hash"]
    assert schema["properties"]["id"]["maxLength"] == 255

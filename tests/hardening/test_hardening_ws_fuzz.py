"""Hardening (issue 9): property-based fuzzing of every client frame type on both sockets.

One app and a few sockets per test; hypothesis drives many frames over them. For each frame:
the connection stays open, a frame with a ref gets exactly one ack or error, every error code
is a documented one and never `internal`, and a refused frame changes no stored data.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatiq.app import create_app
from chatiq.core.protocol import frame_specs
from conftest import ChatHelper, recv_until
from hardening_support import bodies, dumps, exchange, fingerprint, json_values, odd_text

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
SPECS = frame_specs(10_000)


def _has_lone_surrogate(text: str) -> bool:
    # json.dumps writes a pair as two escapes; a lone one is any escape json would not pair.
    try:
        json.dumps(json.loads(text), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        return False
    return False


@pytest.fixture
async def world(aiohttp_client, config):
    """Org A (the fuzzer's) and org B (a neighbour), each with a site, chat and message."""
    config = dataclasses.replace(config, rate_limits_enabled=False)
    client = await aiohttp_client(create_app(config))
    chat = ChatHelper(client.session, str(client.make_url("/")))
    out = {"chat": chat, "config": config}
    for org in ("a", "b"):
        token, user = await chat.register(organization=f"Org {org}")
        site = await chat.create_site(token)
        visitor = await chat.visitor_ws(site["siteKey"])
        message = await chat.say(visitor, f"hello from {org}")
        out[org] = {"token": token, "user": user, "site": site, "visitor": visitor,
                    "message": message, "chatId": message["chatId"]}
    out["ids"] = [out[o][k] for o in "ab" for k in ("chatId",)] + [
        out[o]["message"]["id"] for o in "ab"] + [
        out[o]["user"]["id"] for o in "ab"] + [out[o]["site"]["id"] for o in "ab"] + [
        "c_0", "c_99999999999999999999", "m_-1", "c_١٢", "u_1", "c_1 ", "x"]
    return out


def frames(socket: str, ids: list[str], exclude=()) -> st.SearchStrategy:
    """(text, ref) pairs: shaped frames of every type, odd envelopes, raw text."""
    types = sorted(t for t in SPECS[socket] if t not in exclude)
    ref = st.one_of(st.uuids().map(str), st.just("r" * 200), odd_text.filter(bool))

    @st.composite
    def shaped(draw):
        ftype = draw(st.sampled_from(types))
        r = draw(ref)
        data = draw(bodies(SPECS[socket][ftype], ids))
        frame = {"type": ftype, "data": data, "ref": r}
        return dumps(frame), r

    @st.composite
    def envelope(draw):
        frame = draw(st.dictionaries(st.sampled_from(["type", "data", "ref", "extra"]),
                                     json_values, max_size=4))
        if draw(st.booleans()):
            frame["type"] = draw(st.sampled_from(types + ["nope", "", "visitor:JOIN", "auth"]))
        r = frame.get("ref")
        return dumps(frame), r if isinstance(r, str) and len(r) <= 200 else None

    raw = st.one_of(
        st.sampled_from(['', '{', '[]', 'null', '"x"', '{"type":', '{"type":"ping"}}',
                         '{"type":"ping","ref":"\\ud800"}', '{"type":"\\udc00","ref":"a"}',
                         '{"type":"ping","data":{"x":"\\ud83d"},"ref":"ok"}',
                         '[' * 5000, '{"a":' * 3000, '{"type":"ping","ref":"r","ref":"s"}',
                         'NaN', '{"type":"ping","data":NaN,"ref":"n"}']),
        st.text(max_size=50)).map(lambda t: (t, None))
    return st.one_of(shaped(), shaped(), shaped(), envelope(), raw)


async def _check(ws, sql, config, text: str, ref) -> None:
    if len(text.encode("utf-8")) > config.max_frame_bytes:
        return  # the documented 1009 close; covered elsewhere
    surrogate = _has_lone_surrogate(text)
    if surrogate:
        ref = None  # the frame is not valid JSON for the contract: bad_json, no ref echoed
    else:
        try:
            decoded = json.loads(text)
            if not (isinstance(decoded, dict) and isinstance(decoded.get("ref"), str)
                    and len(decoded["ref"]) <= 200):
                ref = None
            else:
                ref = decoded["ref"]
        except (ValueError, RecursionError):
            ref = None
    before = fingerprint(sql)
    reply = await exchange(ws, text, ref)
    if surrogate:
        assert reply is not None and reply["data"]["code"] == "bad_json", (text[:200], reply)
    if reply is not None and reply["type"] == "error":
        assert fingerprint(sql) == before, f"a refused frame changed data: {text[:300]!r} → {reply}"


@FUZZ
@given(batch=st.data())
async def test_fuzz_visitor_socket(world, sql, batch):
    ids = world["ids"]
    ws = world["a"]["visitor"]
    for _ in range(batch.draw(st.integers(1, 6))):
        text, ref = batch.draw(frames("visitor", ids))
        await _check(ws, sql, world["config"], text, ref)


@FUZZ
@given(batch=st.data())
async def test_fuzz_visitor_socket_before_join(world, sql, batch):
    """Every frame but a join on an unjoined socket: not_joined or a validation error."""
    chat = world["chat"]
    if "fresh" not in world:
        world["fresh"] = await chat.session.ws_connect(chat.base + "/ws/widget")
    ws = world["fresh"]
    for _ in range(batch.draw(st.integers(1, 6))):
        text, ref = batch.draw(frames("visitor", world["ids"], exclude=("visitor:join",)))
        try:
            if json.loads(text).get("type") == "visitor:join":
                continue
        except (ValueError, AttributeError, RecursionError):
            pass
        await _check(ws, sql, world["config"], text, ref)


@FUZZ
@given(batch=st.data())
async def test_fuzz_operator_socket(world, sql, batch):
    chat = world["chat"]
    if "op" not in world:
        world["op"] = await chat.operator_ws(world["a"]["token"])
    ws = world["op"]
    for _ in range(batch.draw(st.integers(1, 6))):
        text, ref = batch.draw(frames("operator", world["ids"]))
        await _check(ws, sql, world["config"], text, ref)


async def test_fuzzed_sockets_still_work_for_everyone(world, sql):
    """After the neighbour's socket was fuzzed, both orgs still chat normally (sanity)."""
    chat = world["chat"]
    op = await chat.operator_ws(world["b"]["token"])
    await chat.say(world["b"]["visitor"], "still fine")
    frame = await recv_until(op, "visitor:message")
    assert frame["data"]["message"]["text"] == "still fine"
    reply = await chat.reply(op, world["b"]["chatId"], "answer")
    assert reply["seq"] == 3

"""Shared pieces of the hardening tests (issue 9): strategies built from the field specs,
a fingerprint of stored data, and a socket driver that checks the one-reply-per-ref rule."""

from __future__ import annotations

import asyncio
import json
import uuid

from hypothesis import strategies as st

from chatiq.core.protocol import ERROR_CODES, Bool, Field, Int, List, Obj, Str

# Every table a client frame or request could change. A refused frame must leave all of
# them byte for byte as they were.
TABLES = ("organizations", "users", "sites", "site_operators", "visitors", "chats", "messages",
          "attachments", "widget_settings", "auto_replies", "quick_templates", "business_hours",
          "automation_settings", "site_identity", "visitor_tokens", "webhooks")


def fingerprint(sql, tables=TABLES) -> dict:
    out = {}
    for table in tables:
        (row,) = sql(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                     f" FROM {table} t")
        out[table] = row
    return out


ODD_CHARS = ["\u202e", "\u200f", "\u200b", "\ufeff", "\x00", "\ud800", "\udfff", "😀", "ש",
             "\\", "\"", "\n", "é", "\U0010ffff"]
odd_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from(ODD_CHARS) | st.characters(), max_size=20),
    st.lists(st.sampled_from(ODD_CHARS), max_size=6).map("".join),
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                         st.floats(allow_nan=False), odd_text)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(odd_text, inner, max_size=4), max_leaves=12)


def long_string(max_len: int) -> st.SearchStrategy:
    """Right at, one under and one over a length limit, in 1- to 4-byte characters."""
    return st.builds(lambda ch, n: ch * n, st.sampled_from(["a", "é", "ש", "😀", "\u200b"]),
                     st.sampled_from(sorted({max(0, max_len - 1), max_len, max_len + 1})))


def field_values(field: Field, ids: list[str]) -> st.SearchStrategy:
    """Values for one field: good, edge, wrong type, foreign ids, odd unicode."""
    wrong = json_values
    if isinstance(field, Str):
        good = st.sampled_from(sorted(field.choices)) if field.choices else st.text(
            min_size=max(1, field.min_len), max_size=20)
        options = [good, odd_text, long_string(field.max_len), wrong]
        if ids:
            options.append(st.sampled_from(ids))
        return st.one_of(*options)
    if isinstance(field, Int):
        return st.one_of(
            st.sampled_from([field.minimum - 1, field.minimum, field.maximum, field.maximum + 1,
                             0, 1, -1, 2**63, 10**30, True, 1.5]),
            st.integers(min_value=-10, max_value=10**6), wrong)
    if isinstance(field, Bool):
        return st.one_of(st.booleans(), wrong, st.sampled_from([0, 1, "true"]))
    if isinstance(field, Obj):  # e.g. visitor:join's user: shaped, mistyped or anything
        return st.one_of(bodies(field.spec, ids), wrong)
    if isinstance(field, List):
        return st.one_of(st.lists(field_values(field.item, ids), max_size=4),
                         st.lists(st.just("https://a.example"), min_size=field.max_items,
                                  max_size=field.max_items + 1), wrong)
    return wrong


def bodies(spec: dict[str, Field], ids: list[str]) -> st.SearchStrategy:
    """A data object shaped like `spec` (fields dropped, mistyped, extra), or any JSON at all."""
    shaped = st.fixed_dictionaries(
        {}, optional={name: field_values(f, ids) for name, f in spec.items()})
    extra = st.dictionaries(odd_text, json_values, max_size=2)
    return st.one_of(
        shaped, st.builds(lambda a, b: {**b, **a}, shaped, extra),
        st.fixed_dictionaries({name: st.none() for name in spec}), json_values)


def dumps(value) -> str:
    """JSON text; lone surrogates travel as \\u escapes (they cannot be UTF-8)."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value)
    return text


async def exchange(ws, text: str, ref: str | None, timeout: float = 10.0) -> dict | None:
    """Send one raw frame, then a ping; return the reply with `ref` (None without one).

    Every frame before the ping's ack is read, so a second reply to `ref`, or an error
    without a ref for a frame that had one, fails here.
    """
    sentinel = "sentinel-" + uuid.uuid4().hex
    await ws.send_str(text)
    await ws.send_str(json.dumps({"type": "ping", "ref": sentinel}))
    replies, unreffed = [], []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await ws.receive(timeout=max(0.01, deadline - loop.time()))
        assert msg.type.name == "TEXT", (
            f"connection ended after {text[:200]!r}: {msg.type.name} {msg.data!r}")
        frame = json.loads(msg.data)
        if frame.get("ref") == sentinel:
            assert frame["type"] == "ack", frame
            break
        if frame["type"] == "error":
            code = frame["data"]["code"]
            assert code in ERROR_CODES and code != "internal", (text[:300], frame)
            assert isinstance(frame["data"].get("message"), str)
        if ref is not None and frame.get("ref") == ref:
            assert frame["type"] in ("ack", "error"), frame
            replies.append(frame)
        elif frame["type"] == "error" and "ref" not in frame:
            unreffed.append(frame)
    if ref is not None:
        assert len(replies) == 1, (text[:300], replies, unreffed)
        assert not unreffed, (text[:300], unreffed)
        return replies[0]
    assert len(unreffed) <= 1, (text[:300], unreffed)
    return unreffed[0] if unreffed else None

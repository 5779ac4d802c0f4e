"""A site made in the panel works in its first minute: a greeting and an offline auto-reply
in both languages, editable, each visitor answered in theirs (the other one as a fallback)."""

from __future__ import annotations

from conftest import recv_until
from panel_helpers import browsers, owner  # noqa: F401  (fixtures)

from chatiq.panel.starters import AWAY, GREETINGS


async def _key(sql) -> str:
    return sql("SELECT site_key FROM sites ORDER BY id DESC LIMIT 1")[0][0]


async def test_a_new_site_greets_and_answers_offline_in_the_visitors_language(owner, chat, sql):
    site = await owner.create_site("Shop", starters=True)
    key = await _key(sql)
    uk = await chat.visitor_ws(key, language="uk-UA")
    assert uk.session["settings"]["greetings"] == GREETINGS
    assert uk.session["settings"]["greeting"] == GREETINGS["en"]
    await chat.say(uk, "Добрий день!")
    reply = await recv_until(uk, "auto-reply:sent")
    assert reply["data"]["message"]["text"] == AWAY["uk"]
    en = await chat.visitor_ws(key, language="en-GB")
    await chat.say(en, "Hello!")
    assert (await recv_until(en, "auto-reply:sent"))["data"]["message"]["text"] == AWAY["en"]

    _, text = await owner.get(f"/admin/automation?site={site}")
    assert AWAY["uk"] in text and AWAY["en"] in text
    _, text = await owner.get(f"/admin/sites/{site}/settings")
    assert GREETINGS["uk"] in text and GREETINGS["en"] in text


async def test_texts_written_in_one_language_reach_everyone(owner, chat, sql):
    site = await owner.create_site("Shop")
    resp, text = await owner.post(f"/admin/automation/{site}/rules", {
        "trigger": "first_message", "text": "", "text_uk": "Вітаємо, ми вже читаємо!",
        "enabled": "on"})
    assert resp.status == 302, text
    assert sql("SELECT text, texts FROM auto_replies") == [
        ("Вітаємо, ми вже читаємо!", {"uk": "Вітаємо, ми вже читаємо!"})]
    en = await chat.visitor_ws(await _key(sql), language="en-US")
    await chat.say(en, "Hi")
    assert (await recv_until(en, "auto-reply:sent"))["data"]["message"]["text"] == \
        "Вітаємо, ми вже читаємо!"
    resp, text = await owner.post(f"/admin/automation/{site}/rules", {
        "trigger": "first_message", "text": " ", "text_uk": ""})
    assert resp.status == 422 and 'data-field="text"' in text


async def test_the_stored_greeting_speaks_the_visitors_language(owner, chat, sql):
    site = await owner.create_site("Shop")
    resp, _ = await owner.post(f"/admin/automation/{site}/settings", {"storeGreeting": "on"})
    assert resp.status == 302
    uk = await chat.visitor_ws(await _key(sql), language="uk")
    await chat.say(uk, "Привіт")
    welcome = await recv_until(uk, "auto-reply:sent")
    assert welcome["data"]["message"]["text"] == GREETINGS["uk"]

"""The engine on the real app and database, with a ManualClock: no sleeping, each
trigger fires exactly once, timers survive a restart, status flips on time."""

from datetime import timedelta

from automation_helpers import (START, add_rule, auto, bot_texts, clock, no_frame,  # noqa: F401
                                owner_and_site, set_hours, start_app)
from chatiq import keys
from chatiq.automation.clock import ManualClock
from conftest import recv_until


async def test_a_new_site_has_every_rule_off(auto, sql):
    token, _, site = await owner_and_site(auto)
    status, reply = await auto.call("POST", f"/api/v1/sites/{site['id']}/auto-replies", token,
                                    json={"trigger": "offline", "text": "We are away"})
    assert status == 201 and reply["autoReply"]["enabled"] is False
    v = await auto.visitor_ws(site["siteKey"])
    await auto.say(v, "hello?")
    await auto.clock.advance(86400)
    assert await bot_texts(auto, sql) == []


async def test_first_message_fires_once_per_chat(auto, sql):
    token, _, site = await owner_and_site(auto)
    await add_rule(auto, token, site, trigger="first_message", text="Thanks, one moment")
    op = await auto.operator_ws(token)  # someone is online: offline rules stay quiet
    v = await auto.visitor_ws(site["siteKey"])
    first = await auto.say(v, "hi")
    reply = (await recv_until(v, "auto-reply:sent"))["data"]["message"]
    assert reply["author"]["kind"] == "bot" and reply["seq"] == first["seq"] + 1
    seen = (await recv_until(op, "operator:message"))["data"]["message"]
    assert seen == reply
    await auto.say(v, "anyone?")
    await auto.say(v, "hello??")
    assert await bot_texts(auto, sql) == ["Thanks, one moment"]


async def test_offline_outside_hours_fires_once_until_the_team_replies(auto, sql):
    token, _, site = await owner_and_site(auto)
    await add_rule(auto, token, site, trigger="offline", text="We open at 9")
    # START is Friday 12:00 UTC: 13:00-14:00 only, so closed now.
    await set_hours(auto, token, site, timezone="UTC", schedule={"fri": [["13:00", "14:00"]]})
    op = await auto.operator_ws(token)
    v = await auto.visitor_ws(site["siteKey"])
    assert v.session["business"] == {"open": False, "nextOpenAt": "2026-03-27T13:00:00.000Z"}
    m = await auto.say(v, "hello")
    assert (await recv_until(v, "auto-reply:sent"))["data"]["message"]["text"] == "We open at 9"
    await auto.say(v, "still there?")
    assert await bot_texts(auto, sql) == ["We open at 9"]
    await auto.reply(op, m["chatId"], "Here now")
    await auto.say(v, "thanks, one more thing")
    assert await bot_texts(auto, sql) == ["We open at 9", "We open at 9"]


async def test_offline_when_nobody_is_online_and_quiet_when_someone_is(auto, sql):
    token, _, site = await owner_and_site(auto)
    await add_rule(auto, token, site, trigger="offline", text="Nobody here")
    v = await auto.visitor_ws(site["siteKey"])
    await auto.say(v, "hello")
    assert await bot_texts(auto, sql) == ["Nobody here"]

    other = await auto.visitor_ws(site["siteKey"])
    op = await auto.operator_ws(token)
    await auto.say(other, "hello")
    assert await bot_texts(auto, sql) == ["Nobody here"]
    await op.send_json({"type": "operator:status", "data": {"status": "away"}, "ref": "s"})
    await recv_until(op, "ack")
    await auto.say(other, "hello again")
    assert await bot_texts(auto, sql) == ["Nobody here", "Nobody here"]


async def test_keyword_matches_case_insensitively(auto, sql):
    token, _, site = await owner_and_site(auto)
    await add_rule(auto, token, site, trigger="keyword", keyword="price", text="See /pricing")
    await auto.operator_ws(token)
    v = await auto.visitor_ws(site["siteKey"])
    await auto.say(v, "hello")
    assert await bot_texts(auto, sql) == []
    await auto.say(v, "What is the PRICE?")
    await auto.say(v, "price please")
    assert await bot_texts(auto, sql) == ["See /pricing"]


async def test_no_reply_fires_once_after_the_delay(auto, sql):
    token, _, site = await owner_and_site(auto)
    await add_rule(auto, token, site, trigger="no_reply", delaySeconds=60, text="Hang on")
    op = await auto.operator_ws(token)
    v = await auto.visitor_ws(site["siteKey"])
    m = await auto.say(v, "hello")
    await auto.say(v, "hello?")  # still the same wait, not a second timer
    await auto.clock.advance(59)
    assert await bot_texts(auto, sql) == []
    await auto.clock.advance(1)
    assert (await recv_until(v, "auto-reply:sent"))["data"]["message"]["text"] == "Hang on"
    await auto.say(v, "hello???")
    await auto.clock.advance(3600)
    assert await bot_texts(auto, sql) == ["Hang on"]
    assert sql("SELECT count(*) FROM auto_reply_timers") == [(0,)]

    # An answer starts a new occurrence; an answer in time cancels it.
    await auto.reply(op, m["chatId"], "Here")
    await auto.say(v, "one more question")
    await auto.clock.advance(30)
    await auto.reply(op, m["chatId"], "Go on")
    await auto.clock.advance(3600)
    assert await bot_texts(auto, sql) == ["Hang on"]
    assert sql("SELECT count(*) FROM auto_reply_timers") == [(0,)]
    await auto.say(v, "and another")
    await auto.clock.advance(60)
    assert await bot_texts(auto, sql) == ["Hang on", "Hang on"]


async def test_an_answer_through_another_process_cancels_the_wait_there(
        auto, aiohttp_client, config, sql):
    """The visitor's process holds the no_reply timer; the answer arrives through another
    process, which holds none and so runs no query for it. The timer still stores nothing
    when it fires, because the team's last seq has moved (store.fire checks it)."""
    other = await start_app(aiohttp_client, config, ManualClock(START))
    token, _, site = await owner_and_site(auto)
    await add_rule(auto, token, site, trigger="no_reply", delaySeconds=60, text="Hang on")
    v = await auto.visitor_ws(site["siteKey"])
    m = await auto.say(v, "hello")
    assert len(auto.app[keys.AUTOMATION].reply_timers) == 1
    op = await other.operator_ws(token)
    await other.reply(op, m["chatId"], "Here")
    await auto.clock.advance(60)
    await auto.app[keys.AUTOMATION].settle()
    assert await bot_texts(auto, sql) == []
    assert sql("SELECT count(*) FROM auto_reply_timers") == [(0,)]


async def test_no_reply_does_not_fire_in_a_closed_chat_or_for_a_disabled_rule(auto, sql):
    token, _, site = await owner_and_site(auto)
    rule = await add_rule(auto, token, site, trigger="no_reply", delaySeconds=60, text="Hang on")
    op = await auto.operator_ws(token)
    v = await auto.visitor_ws(site["siteKey"])
    m = await auto.say(v, "hello")
    await op.send_json({"type": "chat:close", "data": {"chatId": m["chatId"]}, "ref": "c"})
    await recv_until(op, "ack")
    await auto.clock.advance(60)
    assert await bot_texts(auto, sql) == []

    v2 = await auto.visitor_ws(site["siteKey"])
    await auto.say(v2, "hello")
    await auto.call("PATCH", f"/api/v1/auto-replies/{rule['id']}", token, json={"enabled": False})
    await auto.clock.advance(60)
    assert await bot_texts(auto, sql) == []


async def test_delayed_first_message_is_dropped_when_an_operator_answers_first(auto, sql):
    token, _, site = await owner_and_site(auto)
    await add_rule(auto, token, site, trigger="first_message", delaySeconds=10, text="Welcome!")
    op = await auto.operator_ws(token)
    v = await auto.visitor_ws(site["siteKey"])
    m = await auto.say(v, "hi")
    await auto.reply(op, m["chatId"], "Hi there")
    await auto.clock.advance(10)
    assert await bot_texts(auto, sql) == []


async def test_pending_timers_survive_a_restart_and_fire_once(aiohttp_client, config, sql):
    """Timers are rebuilt from the database at start-up: never lost, never doubled."""
    first = await start_app(aiohttp_client, config, ManualClock(START))
    token, _, site = await owner_and_site(first)
    await add_rule(first, token, site, trigger="no_reply", delaySeconds=300, text="Still here")
    v = await first.visitor_ws(site["siteKey"])
    await first.say(v, "hello")
    await v.close()
    await first.clock.advance(100)
    await first.client.close()  # shutdown: the in-memory timer is gone, the row is not
    assert sql("SELECT count(*) FROM auto_reply_timers") == [(1,)]

    later = ManualClock(START + timedelta(seconds=100))
    second = await start_app(aiohttp_client, config, later)
    assert later.pending() == [START + timedelta(seconds=300)]
    await later.advance(199)
    assert await bot_texts(second, sql) == []
    await later.advance(1)
    assert await bot_texts(second, sql) == ["Still here"]
    await later.advance(3600)
    await second.client.close()

    third = await start_app(aiohttp_client, config, ManualClock(START + timedelta(hours=2)))
    await third.clock.advance(3600)
    assert await bot_texts(third, sql) == ["Still here"]
    seqs = sql("SELECT seq FROM messages ORDER BY seq")
    assert [s for (s,) in seqs] == [1, 2]


async def test_two_servers_holding_the_same_timer_fire_it_once(aiohttp_client, config, sql):
    a = await start_app(aiohttp_client, config, ManualClock(START))
    token, _, site = await owner_and_site(a)
    await add_rule(a, token, site, trigger="no_reply", delaySeconds=60, text="Once")
    v = await a.visitor_ws(site["siteKey"])
    await a.say(v, "hello")
    b = await start_app(aiohttp_client, config, ManualClock(START))
    assert b.clock.pending() == [START + timedelta(seconds=60)]
    await b.clock.advance(60)
    await a.clock.advance(60)
    assert await bot_texts(b, sql) == ["Once"]
    assert sql("SELECT count(*) FROM auto_reply_fired") == [(1,)]


async def test_welcome_is_stored_once_when_the_site_chooses_so(auto, sql):
    token, _, site = await owner_and_site(auto)
    await auto.call("PATCH", f"/api/v1/sites/{site['id']}/settings", token,
                    json={"greeting": "Hi! How can we help?"})
    v = await auto.visitor_ws(site["siteKey"])
    await auto.say(v, "hello")
    assert await bot_texts(auto, sql) == []  # the default: shown by the widget, never stored

    status, reply = await auto.call("PATCH", f"/api/v1/sites/{site['id']}/automation", token,
                                    json={"storeGreeting": True})
    assert status == 200 and reply["automation"] == {"storeGreeting": True}
    v2 = await auto.visitor_ws(site["siteKey"])
    await auto.call("GET", "/api/v1/sites", token)
    first = await auto.say(v2, "hello")
    welcome = (await recv_until(v2, "auto-reply:sent"))["data"]["message"]
    assert welcome["text"] == "Hi! How can we help?" and welcome["seq"] == first["seq"] + 1
    await auto.say(v2, "again")
    assert await bot_texts(auto, sql) == ["Hi! How can we help?"]


async def test_business_status_flips_at_the_instant_across_dst(auto):
    """Kyiv moves to summer time on Sunday 2026-03-29: Monday 09:00 is 06:00 UTC, not 07:00."""
    token, _, site = await owner_and_site(auto)
    weekdays = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    await set_hours(auto, token, site, timezone="Europe/Kyiv", schedule=weekdays)
    v = await auto.visitor_ws(site["siteKey"])
    assert v.session["business"] == {"open": True, "nextOpenAt": None}  # Friday 14:00 EET

    close = START.replace(hour=16)                                      # Friday 18:00 EET
    await auto.clock.advance(to=close - timedelta(seconds=1))
    await no_frame(v, "business:status")
    await auto.clock.advance(1)
    status = (await recv_until(v, "business:status"))["data"]
    assert status == {"open": False, "nextOpenAt": "2026-03-30T06:00:00.000Z"}

    opens = START.replace(day=30, hour=6)
    await auto.clock.advance(to=opens - timedelta(seconds=1))
    await no_frame(v, "business:status")
    await auto.clock.advance(1)
    assert (await recv_until(v, "business:status"))["data"] == {"open": True, "nextOpenAt": None}
    assert auto.clock.pending() == [opens.replace(hour=15)]             # Monday 18:00 EEST


async def test_saving_hours_tells_open_widgets_at_once(auto):
    token, _, site = await owner_and_site(auto)
    v = await auto.visitor_ws(site["siteKey"])
    await set_hours(auto, token, site, timezone="UTC", schedule={"mon": [["09:00", "17:00"]]})
    status = (await recv_until(v, "business:status"))["data"]
    assert status == {"open": False, "nextOpenAt": "2026-03-30T09:00:00.000Z"}
    await auto.call("PUT", f"/api/v1/sites/{site['id']}/hours", token, json={"enabled": False})
    assert (await recv_until(v, "business:status"))["data"] == {"open": True, "nextOpenAt": None}
    assert auto.clock.pending() == []

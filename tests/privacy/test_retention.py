"""Per-site retention (issue 9): the setting (API, panel) and the job that enforces it."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

import aiohttp
import psycopg2
import pytest

from chatiq.app import create_app
from chatiq.config import ConfigError, load_config
from chatiq.privacy.retention import run_retention
from chatiq.core.protocol import CLOSE_VISITOR_ERASED
from chatiq.store.retention import RETENTION_LOCK_KEY
from conftest import ChatHelper
from privacy_helpers import Org

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel"))

from panel_helpers import browsers  # noqa: E402,F401


@pytest.fixture
async def org(chat, client) -> Org:
    return await Org(chat, client.app).setup()


def _age(sql, org: Org, days: int = 40) -> None:
    """Make the org's first chat (and its visitor) look idle for `days`."""
    sql("UPDATE chats SET updated_at = now() - make_interval(days => %s) WHERE id = %s",
        (days, int(org.chat_id[2:])))
    sql("UPDATE attachments SET created_at = now() - make_interval(days => %s)", (days,))


async def test_the_setting_through_the_api(chat, org, client, sql):
    path = f"/api/v1/sites/{org.site['id']}/retention"
    assert await chat.call("GET", path, org.token) == (200, {"retentionDays": None})
    assert await chat.call("PUT", path, org.token, json={"retentionDays": 30}) == (
        200, {"retentionDays": 30})
    assert await chat.call("GET", path, org.token) == (200, {"retentionDays": 30})
    assert await chat.call("PUT", path, org.token, json={"retentionDays": 30}) == (
        200, {"retentionDays": 30})
    assert await chat.call("PUT", path, org.token, json={"retentionDays": None}) == (
        200, {"retentionDays": None})
    assert await chat.call("PUT", path, org.token, json={"retentionDays": 7}) == (
        200, {"retentionDays": 7})
    assert await chat.call("PUT", path, org.token, json={}) == (200, {"retentionDays": None})
    # Only real changes are logged, with what it was and what it became.
    assert sql("SELECT target, details FROM audit_log WHERE action = 'site.retention_changed'"
               " ORDER BY id") == [(org.site["id"], {"from": None, "to": 30}),
                                  (org.site["id"], {"from": 30, "to": None}),
                                  (org.site["id"], {"from": None, "to": 7}),
                                  (org.site["id"], {"from": 7, "to": None})]


@pytest.mark.parametrize("body, status, code", [
    ({"retentionDays": 0}, 422, "invalid"), ({"retentionDays": 36501}, 422, "invalid"),
    ({"retentionDays": -5}, 422, "invalid"), ({"retentionDays": "30"}, 422, "invalid"),
    ({"retentionDays": 1.5}, 422, "invalid"), ({"retentionDays": True}, 422, "invalid"),
    ([30], 400, "bad_json"), ("30", 400, "bad_json"),
])
async def test_bad_values_change_nothing(chat, org, sql, body, status, code):
    path = f"/api/v1/sites/{org.site['id']}/retention"
    await chat.call("PUT", path, org.token, json={"retentionDays": 90})
    got_status, got = await chat.call("PUT", path, org.token, json=body)
    assert (got_status, got["error"]["code"]) == (status, code)
    assert sql("SELECT retention_days FROM sites") == [(90,)]


async def test_who_may_read_and_change_it(chat, org, client, sql):
    path = f"/api/v1/sites/{org.site['id']}/retention"
    other = await Org(chat, client.app).setup("Other")
    operator = await org.operator([org.site["id"]])
    assert (await chat.call("GET", path, operator))[0] == 200
    status, body = await chat.call("PUT", path, operator, json={"retentionDays": 1})
    assert status == 403 and body["error"]["code"] == "forbidden"
    for method in ("GET", "PUT"):
        status, body = await chat.call(method, path, other.token, json={"retentionDays": 1})
        assert status == 404, method
    status, _ = await chat.call("PUT", path, json={"retentionDays": 1})
    assert status == 401
    assert sql("SELECT retention_days FROM sites") == [(None,), (None,)]


async def test_a_run_deletes_what_the_site_no_longer_keeps(chat, org, client, sql, config):
    old_file = await org.send_file(b"old receipt\n", "old.txt")
    fresh_visitor = await chat.visitor_ws(org.site["siteKey"])
    fresh = await chat.say(fresh_visitor, "still talking")
    idle = await chat.visitor_ws(org.site["siteKey"])        # joined, never wrote
    lurker = await chat.visitor_ws(org.site["siteKey"])      # joined recently, never wrote
    forever = await chat.create_site(org.token, name="Keeps everything")
    keeper = await chat.visitor_ws(forever["siteKey"])
    kept = await chat.say(keeper, "old but kept")
    sql("UPDATE chats SET updated_at = now() - interval '40 days'"
        " WHERE id <> %s", (int(fresh["chatId"][2:]),))
    sql("UPDATE attachments SET created_at = now() - interval '40 days'")
    sql("UPDATE visitors SET last_seen = now() - interval '40 days' WHERE id <> %s",
        (int(lurker.session["visitorId"][2:]),))
    await chat.call("PUT", f"/api/v1/sites/{org.site['id']}/retention", org.token,
                    json={"retentionDays": 30})

    result = await run_retention(client.app)
    assert result.ran and result.sites == 1 and result.visitors_removed == 2

    assert sql("SELECT 'c_' || id FROM chats ORDER BY id") == [(fresh["chatId"],),
                                                               (kept["chatId"],)]
    assert sql("SELECT count(*) FROM attachments") == [(0,)]
    files = config.data_dir / "files"
    assert not [p for p in files.rglob("*") if p.is_file() and ".incoming" not in p.parts]
    status, _ = await chat.call("GET", old_file["attachment"]["url"], org.token)
    assert status == 404
    # The first visitor (chat gone) and the idle one went; the idle one's widget was told.
    remaining = {r[0] for r in sql("SELECT 'v_' || id FROM visitors")}
    assert remaining == {fresh_visitor.session["visitorId"], lurker.session["visitorId"],
                         keeper.session["visitorId"]}
    msg = await idle.receive(timeout=5)
    while msg.type == aiohttp.WSMsgType.TEXT:
        msg = await idle.receive(timeout=5)
    assert msg.data == CLOSE_VISITOR_ERASED


async def test_another_process_holding_the_lock_skips_the_round(org, client, sql, chat,
                                                                database_url):
    _age(sql, org)
    await chat.call("PUT", f"/api/v1/sites/{org.site['id']}/retention", org.token,
                    json={"retentionDays": 30})
    holder = psycopg2.connect(database_url)
    holder.autocommit = True
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (RETENTION_LOCK_KEY,))
        result = await run_retention(client.app)
        assert not result.ran and sql("SELECT count(*) FROM chats") == [(1,)]
    finally:
        holder.close()  # a crashed process releases its lock with its connection
    for _ in range(50):  # once its backend has gone
        result = await run_retention(client.app)
        if result.ran:
            break
        await asyncio.sleep(0.05)
    assert result.ran and sql("SELECT count(*) FROM chats") == [(0,)]
    # Two rounds at once: one runs, the other skips.
    results = await asyncio.gather(run_retention(client.app), run_retention(client.app))
    assert sorted(r.ran for r in results) in ([False, True], [True, True])


async def test_the_job_runs_at_start_and_then_periodically(aiohttp_client, config, sql):
    app = create_app(dataclasses.replace(config, retention_interval_seconds=0.2))
    client = await aiohttp_client(app)
    chat = ChatHelper(client.session, str(client.make_url("/")))
    org = await Org(chat, app).setup()
    await chat.call("PUT", f"/api/v1/sites/{org.site['id']}/retention", org.token,
                    json={"retentionDays": 30})
    _age(sql, org)
    for _ in range(50):
        if sql("SELECT count(*) FROM chats") == [(0,)]:
            break
        await asyncio.sleep(0.1)
    assert sql("SELECT count(*) FROM chats") == [(0,)]


async def test_the_panel_setting_on_the_site_settings_page(chat, org, browsers, sql, client):
    owner = browsers()
    await owner.login(org.user["email"])
    page_path = f"/admin/sites/{org.site['id']}/settings"
    resp, page = await owner.get(page_path)
    assert resp.status == 200 and 'name="retention_days"' in page
    path = f"/admin/sites/{org.site['id']}/retention"
    for bad in ("abc", "0", "36501", "-1", "1.5", "٣"):
        resp, page = await owner.post(path, {"retention_days": bad})
        assert resp.status == 422 and 'data-field="retention_days"' in page, bad
    resp, _ = await owner.post(path, {"retention_days": "45"}, csrf="forged")
    assert resp.status == 403
    assert sql("SELECT retention_days FROM sites") == [(None,)]
    resp, _ = await owner.post(path, {"retention_days": " 45 "})
    assert resp.status == 302 and resp.headers["Location"] == page_path
    resp, page = await owner.get(page_path)
    assert 'value="45"' in page and "Retention saved." in page
    assert sql("SELECT retention_days FROM sites") == [(45,)]
    resp, _ = await owner.post(path, {"retention_days": ""})
    assert resp.status == 302 and sql("SELECT retention_days FROM sites") == [(None,)]

    await org.operator([org.site["id"]], email="op@example.com")
    operator = browsers()
    await operator.login("op@example.com", "operator pass 1")
    resp, _ = await operator.post(path, {"retention_days": "1"})
    assert resp.status == 403
    other = await Org(chat, client.app).setup("Other")
    stranger = browsers()
    await stranger.login(other.user["email"])
    resp, _ = await stranger.post(path, {"retention_days": "1"})
    assert resp.status == 404
    assert sql("SELECT retention_days FROM sites ORDER BY id") == [(None,), (None,)]


def test_the_interval_comes_from_the_environment(tmp_path):
    env = {"CHATIQ_SECRET_KEY": "k", "CHATIQ_RETENTION_INTERVAL": "60"}
    assert load_config(data_dir=str(tmp_path), env=env).retention_interval_seconds == 60
    assert load_config(data_dir=str(tmp_path), env={"CHATIQ_SECRET_KEY": "k"}
                       ).retention_interval_seconds == 3600
    with pytest.raises(ConfigError):
        load_config(data_dir=str(tmp_path), env={**env, "CHATIQ_RETENTION_INTERVAL": "hourly"})

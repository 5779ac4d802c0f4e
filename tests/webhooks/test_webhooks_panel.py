"""The panel's webhook pages: OWNER-only, CSRF on every form, errors in the user's
language, another tenant's ids not found, and a delivery log with a retry button."""

from __future__ import annotations

import dataclasses
import html
import re
import sys
from pathlib import Path

import pytest

from chatiq import keys
from chatiq.core.security import hash_password
from chatiq.store import accounts
from chatiq.store.sites import set_site_operators
from webhook_support import receiver, settle  # noqa: F401  (fixture)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel"))

from panel_helpers import browsers, owner  # noqa: E402,F401  (fixtures)


@pytest.fixture
def config(config):
    """The receiver is on localhost; retries are quick."""
    return dataclasses.replace(config, webhooks_allow_private=True, outbox_poll_seconds=0.05,
                               outbox_backoff_base=0.05, outbox_backoff_cap=0.2,
                               outbox_max_attempts=3)


def rows(sql) -> list[tuple]:
    return sql("SELECT url, secret, events, enabled FROM webhooks ORDER BY id")


def secrets_on(page: str) -> list[str]:
    return re.findall(r"whsec_[0-9a-f]{64}", page)


async def test_owner_adds_edits_rotates_and_deletes(owner, receiver, sql):
    site = await owner.create_site("Shop")
    resp, page = await owner.get("/admin/sites")
    assert f'href="/admin/sites/{site}/webhooks"' in page
    resp, page = await owner.get(f"/admin/sites/{site}/webhooks")
    assert resp.status == 200 and "Webhooks: Shop" in page

    resp, _ = await owner.post(f"/admin/sites/{site}/webhooks", {
        "url": receiver.url, "events": ["chat.started", "chat.closed"], "enabled": "on"})
    assert resp.status == 302
    resp, page = await owner.get(resp.headers["Location"])
    assert "Webhook added" in page
    ((url, secret, events, enabled),) = rows(sql)
    assert (url, events, enabled) == (receiver.url, ["chat.started", "chat.closed"], True)
    assert secrets_on(page) == [secret]
    ref = re.search(r'data-webhook-id="(wh_\d+)"', page).group(1)

    resp, _ = await owner.post(f"/admin/webhooks/{ref}", {
        "url": receiver.url + "?v=2", "events": ["message.created"]})
    assert resp.status == 302
    assert rows(sql)[0][0::2] == (receiver.url + "?v=2", ["message.created"])
    assert rows(sql)[0][3] is False  # the unchecked box switched it off

    resp, _ = await owner.post(f"/admin/webhooks/{ref}/rotate")
    assert resp.status == 302 and rows(sql)[0][1] != secret
    resp, _ = await owner.post(f"/admin/webhooks/{ref}/delete")
    assert resp.status == 302 and rows(sql) == []


async def test_bad_input_shows_a_translated_error_and_stores_nothing(owner, sql):
    site = await owner.create_site("Shop")
    await owner.get(f"/admin/sites/{site}/webhooks")
    for form, needle in [
            ({"url": "ftp://example.com/", "events": ["chat.closed"]}, "Enter an http://"),
            ({"url": "https://example.com/", "events": ["chat.exploded"]}, "Choose at least"),
            ({"url": "https://example.com/"}, "Choose at least one event"),
            ({"url": "https://example.com/" + "x" * 2100, "events": ["chat.closed"]}, "")]:
        resp, page = await owner.post(f"/admin/sites/{site}/webhooks", form)
        assert resp.status in (413, 422), (form, resp.status)
        assert 'role="alert"' in page and needle in html.unescape(page), (form, page[-2000:])
    assert rows(sql) == []
    await owner.post("/admin/language", {"lang": "uk", "next": "/admin/sites"})
    resp, page = await owner.post(f"/admin/sites/{site}/webhooks",
                                  {"url": "gopher://x/", "events": ["chat.closed"]})
    assert resp.status == 422 and "Введіть адресу http://" in page
    assert rows(sql) == []


async def test_forms_need_the_csrf_token(owner, receiver, sql):
    site = await owner.create_site("Shop")
    await owner.post(f"/admin/sites/{site}/webhooks",
                     {"url": receiver.url, "events": ["chat.closed"], "enabled": "on"})
    _, page = await owner.get(f"/admin/sites/{site}/webhooks")
    ref = re.search(r'data-webhook-id="(wh_\d+)"', page).group(1)
    before = rows(sql)
    for path, form in [(f"/admin/sites/{site}/webhooks", {"url": receiver.url + "?2"}),
                       (f"/admin/webhooks/{ref}", {"url": "https://8.8.8.8/"}),
                       (f"/admin/webhooks/{ref}/rotate", {}),
                       (f"/admin/webhooks/{ref}/delete", {}),
                       (f"/admin/webhooks/{ref}/test", {}),
                       (f"/admin/webhooks/{ref}/retry", {"delivery": "whd_1"})]:
        for csrf in (False, "forged"):
            resp, _ = await owner.post(path, form, csrf=csrf)
            assert resp.status == 403, (path, csrf)
    assert rows(sql) == before
    assert sql("SELECT count(*) FROM outbox") == [(0,)]


async def test_operators_and_other_tenants_are_kept_out(owner, browsers, client, sql, receiver):
    site = await owner.create_site("Shop")
    await owner.post(f"/admin/sites/{site}/webhooks",
                     {"url": receiver.url, "events": ["chat.closed"], "enabled": "on"})
    _, page = await owner.get(f"/admin/sites/{site}/webhooks")
    ref = re.search(r'data-webhook-id="(wh_\d+)"', page).group(1)
    before = rows(sql)

    pool = client.server.app[keys.POOL]
    org_id = sql("SELECT org_id FROM sites")[0][0]
    op = await accounts.create_operator(pool, org_id=org_id, email="op@example.com", name="Op",
                                        password_hash=await hash_password("operator pw", 4))
    await set_site_operators(pool, int(site[2:]), [op.id])
    operator = browsers()
    await operator.login("op@example.com", "operator pw")
    _, sites_page = await operator.get("/admin/sites")
    assert "/webhooks" not in sites_page
    stranger = browsers()
    await stranger.signup()
    for who, status in ((operator, 403), (stranger, 404)):
        for path in (f"/admin/sites/{site}/webhooks", f"/admin/webhooks/{ref}/deliveries"):
            resp, page = await who.get(path)
            assert resp.status == status, (path, status)
            assert not secrets_on(page)
        for path, form in [(f"/admin/sites/{site}/webhooks", {"url": "https://8.8.8.8/"}),
                           (f"/admin/webhooks/{ref}", {"url": "https://8.8.8.8/",
                                                       "events": ["chat.closed"]}),
                           (f"/admin/webhooks/{ref}/rotate", {}),
                           (f"/admin/webhooks/{ref}/delete", {}),
                           (f"/admin/webhooks/{ref}/test", {})]:
            resp, _ = await who.post(path, form)
            assert resp.status == status, (path, status)
    resp, _ = await owner.get("/admin/webhooks/wh_999999/deliveries")
    assert resp.status == 404
    assert rows(sql) == before
    assert sql("SELECT count(*) FROM outbox") == [(0,)]


async def test_the_delivery_log_shows_attempts_and_retries(owner, receiver, sql):
    receiver.script = [500, 500, 500]  # three attempts (the config's max), then it fails
    site = await owner.create_site("Shop")
    await owner.post(f"/admin/sites/{site}/webhooks",
                     {"url": receiver.url, "events": ["chat.closed"], "enabled": "on"})
    _, page = await owner.get(f"/admin/sites/{site}/webhooks")
    ref = re.search(r'data-webhook-id="(wh_\d+)"', page).group(1)
    resp, _ = await owner.post(f"/admin/webhooks/{ref}/test")
    assert resp.status == 302 and resp.headers["Location"] == f"/admin/webhooks/{ref}/deliveries"
    await settle(lambda: sql("SELECT status FROM outbox") == [("failed",)], what="failure")
    _, page = await owner.get(f"/admin/webhooks/{ref}/deliveries")
    delivery = re.search(r'data-delivery-id="(whd_\d+)" data-status="failed"', page).group(1)
    assert page.count('data-ok="no"') == 3 and page.count("HTTP 500") == 3
    assert "receiver says 500" in page and "Test event" in page

    resp, _ = await owner.post(f"/admin/webhooks/{ref}/retry", {"delivery": delivery})
    assert resp.status == 302
    await settle(lambda: sql("SELECT status FROM outbox") == [("sent",)], what="the retry")
    _, page = await owner.get(f"/admin/webhooks/{ref}/deliveries")
    assert 'data-status="sent"' in page and page.count('data-ok="yes"') == 1
    assert "Retry now" not in page
    resp, page = await owner.post(f"/admin/webhooks/{ref}/retry", {"delivery": delivery})
    _, page = await owner.get(resp.headers["Location"])
    assert "already been delivered" in page
    resp, _ = await owner.post(f"/admin/webhooks/{ref}/retry", {"delivery": "whd_999999"})
    assert resp.status == 404

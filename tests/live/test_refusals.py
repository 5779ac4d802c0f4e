"""A widget refused for its page's origin is said out loud: the close reason names the
origin, the server logs it (once per origin for a while), and the panel's site page lists
it with a one-click "Allow"."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

from conftest import recv_until

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel"))
from panel_helpers import browsers, owner  # noqa: E402,F401  (fixtures)

PAGE = "http://127.0.0.1:18932"


async def _join(chat, site_key: str, origin: str):
    ws = await chat.session.ws_connect(chat.base + "/ws/widget", headers={"Origin": origin})
    await ws.send_json({"type": "visitor:join", "data": {"siteKey": site_key}})
    return ws


async def test_a_refused_origin_is_logged_listed_and_allowed_in_one_click(owner, chat, sql,
                                                                          caplog):
    """Regression: with allowed origins set, a widget elsewhere vanished, the console blamed
    the site key and the server logged nothing."""
    site_ref = await owner.create_site("Shop", domain="shop.example")
    key = sql("SELECT site_key FROM sites")[0][0]
    caplog.set_level(logging.WARNING, logger="chatiq.live.refusals")

    for _ in range(3):
        ws = await _join(chat, key, PAGE)
        await ws.receive(timeout=5)
        assert ws.close_code == 4003
    logged = [r.getMessage() for r in caplog.records if r.name == "chatiq.live.refusals"]
    assert len(logged) == 1, logged  # rate-limited: one line per origin, not one per page view
    assert PAGE in logged[0] and "allowed origins" in logged[0] and "Shop" in logged[0]
    assert sql("SELECT origin FROM refused_origins") == [(PAGE,)]

    _, text = await owner.get("/admin/sites")
    listed = text.split('data-testid="refused-origins"')[1]
    assert f"<code>{PAGE}</code>" in listed
    assert f'name="origin" value="{PAGE}"' in listed

    resp, _ = await owner.post(f"/admin/sites/{site_ref}/allow-origin", {"origin": PAGE})
    assert resp.status == 302
    assert sql("SELECT allowed_origins FROM sites")[0][0] == [
        "https://shop.example", "https://www.shop.example", PAGE]
    _, text = await owner.get("/admin/sites")
    assert 'data-testid="refused-origins"' not in text
    ok = await _join(chat, key, PAGE)
    assert (await recv_until(ok, "session"))["data"]["visitorId"]


async def test_close_reason_tells_an_origin_from_a_site_key(chat):
    token, _ = await chat.register()
    site = await chat.create_site(token, domain="shop.example")
    ws = await _join(chat, site["siteKey"], PAGE)
    msg = await ws.receive(timeout=5)
    assert ws.close_code == 4003 and re.match(r"^origin", msg.extra or "")
    ws = await _join(chat, "no-such-key", PAGE)
    msg = await ws.receive(timeout=5)
    assert ws.close_code == 4003 and not re.match(r"^origin", msg.extra or "")


async def test_only_owners_allow_origins(owner, browsers, chat, sql):
    site_ref = await owner.create_site("Shop", domain="shop.example")
    stranger = browsers()
    await stranger.signup(organization="Other")
    resp, _ = await stranger.post(f"/admin/sites/{site_ref}/allow-origin", {"origin": PAGE})
    assert resp.status == 404
    assert sql("SELECT allowed_origins FROM sites WHERE id = %s", (int(site_ref[2:]),))[0][0] == [
        "https://shop.example", "https://www.shop.example"]

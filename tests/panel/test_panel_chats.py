"""The chats page: filters, search, escaping, scroll-back JSON, templates, visitor details."""

from __future__ import annotations

from chatiq.panel import i18n
from chatiq.panel.useragent import describe
from panel_helpers import browsers, owner  # noqa: F401  (fixtures)

XSS = '<img src=x onerror=alert(1)>'


async def _site_key(sql):
    return sql("SELECT site_key FROM sites ORDER BY id DESC LIMIT 1")[0][0]


async def test_list_filters_and_search(owner, chat, sql):
    await owner.create_site("Shop")
    key = await _site_key(sql)
    first = await chat.say(await chat.visitor_ws(key), "where is my parcel " + XSS)
    second = await chat.say(await chat.visitor_ws(key), "price of the blue mug")
    uid = sql("SELECT id FROM users")[0][0]
    sql("UPDATE chats SET assigned_to = %s WHERE id = %s", (uid, int(first["chatId"][2:])))
    sql("UPDATE chats SET status = 'closed' WHERE id = %s", (int(second["chatId"][2:]),))

    def ids(text):
        return [part.split('"')[0] for part in text.split('data-chat-id="')[1:]]

    _, text = await owner.get("/admin/chats")
    assert ids(text) == [first["chatId"]]
    assert "where is my parcel &lt;img src=x onerror=alert(1)&gt;" in text and XSS not in text
    _, text = await owner.get("/admin/chats?filter=closed")
    assert ids(text) == [second["chatId"]]
    _, text = await owner.get("/admin/chats?filter=mine")
    assert ids(text) == [first["chatId"]]
    _, text = await owner.get("/admin/chats?filter=unassigned")
    assert ids(text) == []
    _, text = await owner.get("/admin/chats?filter=all")
    assert ids(text) == [second["chatId"], first["chatId"]]  # newest activity first
    _, text = await owner.get("/admin/chats?filter=all&q=BLUE")
    assert ids(text) == [second["chatId"]]
    _, text = await owner.get("/admin/chats?filter=bogus&q=" + "x" * 500)
    assert 'data-filter="open"' in text


async def test_active_chat_shows_visitor_details(owner, chat, sql):
    await owner.create_site("Shop")
    visitor = await chat.visitor_ws(await _site_key(sql), pageUrl="javascript:alert(1)",
                                    pageTitle=XSS, referrer="https://search.example/?q=mugs",
                                    language="uk-UA")
    message = await chat.say(visitor, "hi")
    sql("UPDATE visitors SET user_agent = %s", (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/126.0.0.0 Safari/537.36",))
    resp, text = await owner.get(f"/admin/chats/{message['chatId']}")
    assert resp.status == 200
    assert "Chrome 126 · Windows" in text and "uk-UA" in text
    assert "https://search.example/?q=mugs" in text
    assert 'href="#"' in text and "javascript:alert" not in text.split('id="visitor-page"')[1][:200]
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and XSS not in text
    assert f'data-active-chat="{message["chatId"]}"' in text


async def test_quick_templates_appear_in_the_reply_box(owner, chat, sql):
    await owner.create_site("Shop")
    org = sql("SELECT org_id FROM users")[0][0]
    sql("INSERT INTO quick_templates (org_id, shortcut, title, text) VALUES"
        " (%s, 'hi', 'Greeting', 'Hello! \"How\" can I <help>?')", (org,))
    message = await chat.say(await chat.visitor_ws(await _site_key(sql)), "hello")
    _, text = await owner.get(f"/admin/chats/{message['chatId']}")
    assert 'data-shortcut="hi"' in text
    assert 'data-text="Hello! &#34;How&#34; can I &lt;help&gt;?"' in text


async def test_quick_templates_in_the_reply_box_have_their_variables_filled(owner, chat, sql):
    """Regression: "/ship" + Enter sent "Hi {visitor.name} … {operator.name}, {site.name}"
    to the visitor; only the REST templates endpoint filled the variables."""
    await owner.create_site("Shop")
    org = sql("SELECT org_id FROM users")[0][0]
    sql("INSERT INTO quick_templates (org_id, shortcut, title, text) VALUES"
        " (%s, 'ship', 'Shipping', 'Hi {visitor.name}, {operator.name} of {site.name} here')",
        (org,))
    visitor = await chat.visitor_ws(await _site_key(sql))
    message = await chat.say(visitor, "hello")
    vid = visitor.session["visitorId"]
    _, text = await owner.get(f"/admin/chats/{message['chatId']}")
    assert f'data-text="Hi Visitor #{vid[2:]}, Olena of Shop here"' in text
    assert "{visitor.name}" not in text


async def test_scrolling_back_returns_older_messages_in_order(owner, chat, sql):
    await owner.create_site("Shop")
    visitor = await chat.visitor_ws(await _site_key(sql))
    for i in range(1, 8):
        message = await chat.say(visitor, f"m{i}")
    path = f"/admin/api/chats/{message['chatId']}/messages"
    async with owner.session.get(owner.base + path, params={"beforeSeq": "6", "limit": "3"}) as r:
        assert r.status == 200
        body = await r.json()
    assert [m["text"] for m in body["messages"]] == ["m3", "m4", "m5"]
    async with owner.session.get(owner.base + path, params={"beforeSeq": "x"}) as r:
        assert r.status == 400


def test_user_agents_read_like_a_person_would_say_them():
    assert describe(None) is None
    assert describe("Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0") \
        == "Firefox 127 · Linux"
    assert describe("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
                    " (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1") \
        == "Safari 17 · iOS"
    assert describe("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like"
                    " Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87") == "Edge 126 · Windows"


def _tables() -> tuple[dict, dict]:
    """Every part's strings (the URL table imports every feature, so all are added)."""
    import chatiq.routes  # noqa: F401
    from chatiq.core import i18n as core_i18n

    tables = core_i18n.tables()
    return tables["en"], tables["uk"]


def test_ukrainian_and_english_have_the_same_keys():
    en, uk = _tables()
    assert set(en) == set(uk) and set(i18n.EN) <= set(en)
    for key in en:
        assert uk[key].strip(), key
        # Placeholders must match, or a translation would crash at format time.
        assert sorted(_fields(en[key])) == sorted(_fields(uk[key])), key


def test_every_key_used_in_templates_exists():
    import re

    from chatiq.core.resources import resource_path

    used = set()
    for path in resource_path("admin", "templates").glob("*.html"):
        used |= set(re.findall(r"t\('([\w.]+)'", path.read_text()))
    en, _ = _tables()
    prefixes = {key for key in used if key.endswith(".")}  # t('nav.' ~ name)
    assert prefixes and all(any(k.startswith(p) for k in en) for p in prefixes)
    assert used - prefixes <= set(en), used - prefixes - set(en)


def _fields(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]



async def test_reply_box_uploads_need_the_session_csrf_and_the_chat(browsers, owner, sql):
    """The panel's attach button posts to /admin/api/uploads with its session cookie."""
    import aiohttp

    from conftest import ChatHelper
    from files.samples import png

    await owner.create_site()
    (site_key,) = sql("SELECT site_key FROM sites")[0]
    chat = ChatHelper(owner.session, owner.base)
    m = await chat.say(await chat.visitor_ws(site_key), "hi")

    def form(chat_id):
        data = aiohttp.FormData()
        data.add_field("chatId", chat_id)
        data.add_field("file", png((32, 32)), filename="dot.png", content_type="image/png")
        return data

    async def post(chat_id, headers):
        async with owner.session.post(owner.base + "/admin/api/uploads", data=form(chat_id),
                                      headers=headers) as resp:
            return resp.status, await resp.json() if resp.content_type == "application/json" else None

    assert (await post(m["chatId"], {}))[0] == 403  # no CSRF header
    assert (await post("c_999999", {"X-CSRF-Token": owner.csrf}))[0] == 404
    assert sql("SELECT count(*) FROM attachments")[0][0] == 0
    status, body = await post(m["chatId"], {"X-CSRF-Token": owner.csrf})
    assert status == 201, body
    assert body["attachment"]["mime"] == "image/png" and body["attachment"]["thumbUrl"]
    assert sql("SELECT count(*) FROM attachments")[0][0] == 1

"""Every panel page with something on it, for the tests that look at all of them (axe, the
Ukrainian sweep, phone widths, screenshots). The list comes from the URL table, so a new
page is looked at without anyone remembering to add it here."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from browser_support import logged_in_page, operator_upload, png

from chatiq.routes import PANEL_ROUTES

# Not pages a person reads: JSON, downloads, sign-in redirects, the index redirect.
NOT_PAGES = re.compile(r"^/admin/(api/|oidc/)|/(transcript|export)$|\.csv$|^/admin$")
# Pages for someone signed out (the rest need a session).
SIGNED_OUT = {"/admin/login", "/admin/signup", "/admin/password/forgot",
              "/admin/invite/{token}", "/admin/password/reset/{token}"}
EMAIL = "tour@example.com"
# What people type, in either language (the Ukrainian sweep must not trip over English
# that a visitor or an owner wrote).
CONTENT = {
    "en": {"site": "Flower shop", "page": "Roses", "ask": "Do you deliver roses to Lviv tomorrow?",
           "answer": "Yes! Tomorrow before 6 pm.", "thanks": "Perfect, thank you!",
           "template": "Hi {visitor.name}, we ship daily.", "title": "Shipping"},
    "uk": {"site": "Квіткова крамниця", "page": "Троянди",
           "ask": "Чи доставите троянди до Львова завтра?", "answer": "Так! Завтра до 18:00.",
           "thanks": "Чудово, дякую!", "template": "Вітаємо, {visitor.name}! Доставляємо щодня.",
           "title": "Доставка"},
}


@dataclass
class Tour:
    token: str
    site: dict
    chat_id: str
    visitor_id: str
    webhook_id: str
    invite_token: str = ""

    def url(self, path: str) -> str:
        """The route's path with this tour's ids in place of its placeholders."""
        if path.startswith("/admin/chats/"):
            path = path.replace("{id}", self.chat_id)
        elif path.startswith("/admin/sites/"):
            path = path.replace("{id}", self.site["id"])
        elif path.startswith("/admin/visitors/"):
            path = path.replace("{id}", self.visitor_id)
        elif path.startswith("/admin/webhooks/"):
            path = path.replace("{id}", self.webhook_id)
        elif path.startswith("/admin/invite/"):
            path = path.replace("{token}", self.invite_token)
        return path.replace("{token}", "no-such-token")


def pages(signed_in: bool) -> list[str]:
    """Route paths of the panel's pages (placeholders kept), in the URL table's order."""
    seen: list[str] = []
    for method, path, *_ in PANEL_ROUTES:
        if method == "GET" and not NOT_PAGES.search(path) and path not in seen \
                and (path in SIGNED_OUT) != signed_in:
            seen.append(path)
    return seen


async def populate(server, lang: str = "en") -> Tour:
    """An organization with a site, a chat with text and an image, a template, a webhook, a
    refused origin, some analytics and audit rows; what people wrote is in `lang`."""
    said = CONTENT[lang]
    token, _ = await server.register(email=EMAIL, name="Olena", organization="Квіти")
    site = await server.create_site(token, name=said["site"], domain="flowers.example")
    visitor = await server.visitor_ws(site["siteKey"], pageUrl="https://flowers.example/roses",
                                      pageTitle=said["page"], language="uk-UA",
                                      timezone="Europe/Kyiv")
    chat_id = (await server.say(visitor, said["ask"]))["chatId"]
    op = await server.operator_ws(token)
    await server.reply(op, chat_id, said["answer"])
    attachment = await operator_upload(server, token, chat_id, "bouquet.png", png(300, 200))
    ref = uuid.uuid4().hex
    await op.send_json({"type": "operator:message", "ref": ref, "data": {
        "chatId": chat_id, "clientId": uuid.uuid4().hex, "attachmentId": attachment["id"]}})
    while True:
        msg = await op.receive(timeout=5)
        if ref in msg.data:
            break
    await server.say(visitor, said["thanks"])
    status, body = await server.call("POST", "/api/v1/templates", token, json={
        "shortcut": "ship", "title": said["title"], "text": said["template"]})
    assert status == 201, body
    status, body = await server.call("POST", f"/api/v1/sites/{site['id']}/auto-replies", token,
                                     json={"trigger": "keyword", "keyword": "price",
                                           "text": "Prices are on the product pages.",
                                           "texts": {"en": "Prices are on the product pages.",
                                                     "uk": "Ціни — на сторінках товарів."},
                                           "enabled": True})
    assert status == 201, body
    status, body = await server.call("POST", f"/api/v1/sites/{site['id']}/webhooks", token,
                                     json={"url": "https://hooks.example/chatiq",
                                           "events": ["message.created"]})
    assert status == 201, body
    # A page on a domain the site does not allow: the sites page lists it as refused.
    stray = await server.session.ws_connect(server.base + "/ws/widget",
                                            headers={"Origin": "https://old.flowers.example"})
    await stray.send_json({"type": "visitor:join", "data": {"siteKey": site["siteKey"]}})
    await stray.receive(timeout=5)
    await op.close()
    await visitor.close()
    return Tour(token=token, site=site, chat_id=chat_id,
                visitor_id=visitor.session["visitorId"], webhook_id=body["webhook"]["id"])


async def invite(page, server) -> str:
    """Invite an operator through the team page (signed in as the owner); the link's token."""
    await page.goto(server.url + "/admin/team")
    await page.fill("form[action='/admin/team/invite'] input[name=email]", "mykola@example.com")
    await page.fill("form[action='/admin/team/invite'] input[name=name]", "Mykola")
    await page.click("form[action='/admin/team/invite'] button[type=submit]")
    link = await page.text_content("#invite-link")
    return link.rsplit("/", 1)[1]


async def signed_in(browser, server, lang: str = "en", **context):
    """(page, console, tour): the owner signed in (the panel in `lang`), the organization
    populated."""
    tour = await populate(server, lang)
    page, console = await logged_in_page(browser, server, EMAIL, **context)
    if lang != "en":  # the switch may be folded into the menu on a narrow window
        async with page.expect_navigation():
            await page.evaluate(f"document.querySelector('.lang-switch button[value={lang}]').click()")
        await page.wait_for_selector(f"html[lang={lang}]")
    tour.invite_token = await invite(page, server)
    return page, console, tour

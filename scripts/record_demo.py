"""Record docs/demo.gif, the README's ten-second demo: a shop page with the widget (left) and
the operator panel (right) through a first conversation — a visitor asks, the operator answers
with a quick template and a photo, the visitor reacts, the chat is closed.

    python scripts/record_demo.py            # needs: pip install -e '.[test]' (playwright),
                                             # chromium at /usr/bin/chromium,
                                             # ffmpeg (Debian: apt-get install ffmpeg)

It starts its own `chatiq serve` on a free port with a throw-away data directory, drives both
windows with Playwright and films them: frames of both windows, side by side, with their real
timings, turned into a GIF by ffmpeg. (Playwright's own video recorder wants an ffmpeg build
that only `playwright install` downloads; Debian's ffmpeg does this instead.) Nothing here
runs in CI.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from aiohttp import web
from PIL import Image, ImageDraw
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "demo.gif"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VISITOR = {"width": 560, "height": 700}
OPERATOR = {"width": 900, "height": 700}
EMAIL, PASSWORD = "olena@flowers.example", "correct horse 1"
LIMIT = 2 * 1024 * 1024  # the README's top must stay light

SHOP = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Kvity — flowers</title>
<style>
body{{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1f2937;background:#fdf8f6}}
header{{padding:18px 24px;background:#fff;border-bottom:1px solid #f1e4df;display:flex;gap:24px;align-items:center}}
header b{{font-size:22px;color:#be185d}} nav a{{color:#6b7280;margin-right:16px;text-decoration:none}}
main{{padding:24px}} h1{{margin:0 0 6px;font-size:26px}} p{{margin:0 0 18px;color:#6b7280}}
.grid{{display:grid;grid-template-columns:repeat(2,1fr);gap:16px}}
.card{{background:#fff;border-radius:12px;padding:12px;box-shadow:0 1px 3px rgba(0,0,0,.08)}}
.ph{{height:110px;border-radius:8px;margin-bottom:8px}} .a{{background:linear-gradient(135deg,#fecdd3,#be185d)}}
.b{{background:linear-gradient(135deg,#fde68a,#f97316)}} .c{{background:linear-gradient(135deg,#ddd6fe,#7c3aed)}}
.d{{background:linear-gradient(135deg,#bbf7d0,#15803d)}} .pr{{color:#be185d;font-weight:600}}
</style></head><body>
<header><b>Kvity</b><nav><a href="#">Bouquets</a><a href="#">Delivery</a></nav></header>
<main><h1>Fresh bouquets, delivered today</h1><p>Across Lviv, Kyiv and Odesa.</p>
<div class="grid">
<div class="card"><div class="ph a"></div>Red roses · 25<div class="pr">1 450 ₴</div></div>
<div class="card"><div class="ph b"></div>Sunflowers<div class="pr">890 ₴</div></div>
<div class="card"><div class="ph c"></div>Lavender mix<div class="pr">1 120 ₴</div></div>
<div class="card"><div class="ph d"></div>Eucalyptus<div class="pr">640 ₴</div></div>
</div></main>
<script>window.chtq = {{siteKey: {key}, language: "en"}};</script>
<script async src="{server}/widget.js"></script>
</body></html>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(server: str, method: str, path: str, token: str | None = None, body=None) -> dict:
    request = urllib.request.Request(server + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def bouquet() -> bytes:
    """A drawn bouquet: the operator's photo."""
    image = Image.new("RGB", (600, 800), (253, 242, 248))
    draw = ImageDraw.Draw(image)
    draw.polygon([(220, 430), (380, 430), (330, 760), (270, 760)], fill=(22, 101, 52))
    for x, y, r in [(300, 300, 80), (200, 330, 70), (400, 330, 70), (250, 200, 65),
                    (360, 210, 65), (300, 400, 60)]:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(190, 24, 93))
        draw.ellipse([x - r // 2, y - r // 2, x + r // 2, y + r // 2], fill=(157, 23, 77))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def main() -> None:
    if not shutil.which("ffmpeg"):
        sys.exit("ffmpeg is missing: apt-get install ffmpeg")
    work = Path(tempfile.mkdtemp(prefix="chatiq-demo-"))
    port, shop_port = free_port(), free_port()
    server = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "chatiq", "serve", "--port", str(port),
                             "--data-dir", str(work / "data")], cwd=ROOT)
    shop = None
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(server + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        token = call(server, "POST", "/api/v1/auth/register", body={
            "email": EMAIL, "password": PASSWORD, "name": "Olena", "organization": "Kvity"})["token"]
        site = call(server, "POST", "/api/v1/sites", token, {"name": "Kvity"})["site"]
        call(server, "PATCH", f"/api/v1/sites/{site['id']}/settings", token, {
            "color": "#be185d", "secondaryColor": "#fce7f3", "agentName": "Olena",
            "greeting": "Hi! How can we help?",
            "greetings": {"en": "Hi! How can we help?", "uk": "Вітаємо! Чим можемо допомогти?"}})
        call(server, "POST", "/api/v1/templates", token, {
            "shortcut": "today", "title": "Same-day delivery",
            "text": "Yes! Order before 4 pm and {site.name} delivers today. — {operator.name}"})

        app = web.Application()
        page_html = SHOP.format(key=json.dumps(site["siteKey"]), server=server)
        app.router.add_get("/", lambda _: web.Response(text=page_html, content_type="text/html"))
        shop = web.AppRunner(app)
        await shop.setup()
        await web.TCPSite(shop, "127.0.0.1", shop_port).start()
        await record(server, f"http://127.0.0.1:{shop_port}/", work)
    finally:
        if shop is not None:
            await shop.cleanup()
        proc.terminate()
        proc.wait(timeout=30)
    shutil.rmtree(work, ignore_errors=True)


async def record(server: str, shop_url: str, work: Path) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # Sign in off camera; the recorded panel starts signed in.
        login = await browser.new_context()
        page = await login.new_page()
        await page.goto(server + "/admin/login")
        await page.fill("input[name=email]", EMAIL)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit].primary")
        await page.wait_for_url("**/admin/chats")
        state = await login.storage_state()
        await login.close()

        op_ctx = await browser.new_context(viewport=OPERATOR, storage_state=state, locale="en-GB")
        vis_ctx = await browser.new_context(viewport=VISITOR, locale="en-GB")
        op, visitor = await op_ctx.new_page(), await vis_ctx.new_page()
        await asyncio.gather(op.goto(server + "/admin/chats"), visitor.goto(shop_url))
        await op.wait_for_selector("#conn-state[data-state=connected]")
        camera = Camera(visitor, op, work / "frames")
        filming = asyncio.create_task(camera.run())
        w = visitor.locator("chatiq-widget")
        await visitor.wait_for_timeout(600)

        await w.locator('[data-chatiq="launcher"]').click()
        await w.locator('[data-chatiq="input"]').type("Hi! Can you deliver red roses in Lviv today?",
                                                      delay=25)
        await w.locator('[data-chatiq="input"]').press("Enter")

        await op.locator(".chat-item a").first.click()
        await op.wait_for_selector("#conn-state[data-state=connected]")
        await op.wait_for_timeout(400)
        await op.locator("#reply-text").type("/to", delay=90)
        await op.wait_for_timeout(350)
        await op.locator("#reply-text").press("Enter")   # takes the template, variables filled
        await op.wait_for_timeout(500)
        await op.locator("#reply-text").press("Enter")   # sends it
        await op.set_input_files("#reply-file", files=[
            {"name": "roses.png", "mimeType": "image/png", "buffer": bouquet()}])
        await w.locator('[data-chatiq="attachment"] img').wait_for()
        await visitor.wait_for_timeout(700)

        theirs = w.locator('[data-chatiq="message"][data-kind="operator"]').first
        await theirs.hover()
        await theirs.locator('[data-chatiq="react"]').click()
        await w.locator('[data-chatiq="reaction-picker"] button').first.click()
        await op.wait_for_selector("#message-list .reaction")
        await op.wait_for_timeout(600)
        await op.click("#close-chat")
        await w.locator('[data-chatiq="system"]').wait_for()
        await asyncio.gather(op.wait_for_timeout(1500), visitor.wait_for_timeout(1500))
        camera.stop = True
        await filming
        await browser.close()
        to_gif(camera.write_list(), work)


class Camera:
    """Both windows as one picture, as often as the machine manages, each frame kept with
    the time it was taken (so the GIF plays at the speed things happened)."""

    def __init__(self, left, right, folder: Path):
        self.left, self.right, self.folder = left, right, folder
        self.frames: list[tuple[float, Path]] = []
        self.stop = False
        folder.mkdir(parents=True)

    async def run(self) -> None:
        while not self.stop:
            taken = time.monotonic()
            left, right = await asyncio.gather(self.left.screenshot(), self.right.screenshot())
            frame = Image.new("RGB", (VISITOR["width"] + OPERATOR["width"], VISITOR["height"]))
            frame.paste(Image.open(io.BytesIO(left)), (0, 0))
            frame.paste(Image.open(io.BytesIO(right)), (VISITOR["width"], 0))
            path = self.folder / f"f{len(self.frames):05d}.png"
            frame.save(path)
            self.frames.append((taken, path))
            await asyncio.sleep(max(0.0, 0.12 - (time.monotonic() - taken)))

    def write_list(self) -> Path:
        """An ffmpeg concat list: every frame lasts until the next one was taken."""
        lines = []
        for (at, path), (following, _) in zip(self.frames, self.frames[1:] + [self.frames[-1]]):
            lines += [f"file '{path}'", f"duration {max(following - at, 0.05):.3f}"]
        lines.append(f"file '{self.frames[-1][1]}'")  # the demuxer drops the last duration
        listing = self.folder / "frames.txt"
        listing.write_text("\n".join(lines) + "\n")
        return listing


def to_gif(listing: Path, work: Path) -> None:
    """One shared palette, a few frames a second; smaller until it fits the budget."""
    for width, fps in ((1200, 10), (1000, 8), (900, 7), (800, 6)):
        palette = work / "palette.png"
        scaled = f"fps={fps},scale={width}:-1:flags=lanczos"
        source = ["-f", "concat", "-safe", "0", "-i", str(listing)]
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *source, "-vf",
                        scaled + ",palettegen=max_colors=128:stats_mode=diff", str(palette)],
                       check=True)
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *source, "-i", str(palette),
                        "-lavfi", scaled + "[v];[v][1:v]paletteuse=dither=bayer:bayer_scale=4"
                        ":diff_mode=rectangle", "-loop", "0", str(OUT)], check=True)
        size = OUT.stat().st_size
        print(f"{OUT} {width}px {fps} fps: {size / 1048576:.2f} MB")
        if size <= LIMIT:
            return
    sys.exit(f"{OUT} is still over {LIMIT} bytes")


if __name__ == "__main__":
    asyncio.run(main())

"""Several ChatIQ processes on one PostgreSQL: fan-out over LISTEN/NOTIFY.

Two apps in one test process stand for two servers (each has its own hub, pool,
writer and LISTEN connection); the last test uses two real `chatiq serve` processes.
"""

import asyncio
import datetime
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest

from chatiq import keys
from conftest import LiveServer, recv, recv_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def two(config, unused_tcp_port_factory):
    async with aiohttp.ClientSession() as session:
        a = LiveServer(config, session, unused_tcp_port_factory())
        b = LiveServer(config, session, unused_tcp_port_factory())
        await a.start()
        await b.start()
        for server in (a, b):
            await asyncio.wait_for(server.runner.app[keys.BUS].connected.wait(), 10)
        try:
            yield a, b
        finally:
            await a.stop()
            await b.stop()


async def test_visitor_on_a_operator_on_b(two, sql):
    a, b = two
    token, _ = await a.register()
    site = await a.create_site(token)
    op = await b.operator_ws(token)
    v = await a.visitor_ws(site["siteKey"])
    first = await a.say(v, "hello from A")
    assert (await recv_until(op, "chat:new"))["data"]["chat"]["id"] == first["chatId"]
    got = await recv_until(op, "visitor:message")
    assert got["data"]["message"]["id"] == first["id"]

    await v.send_json({"type": "visitor:typing", "data": {"typing": True, "preview": "and"}})
    typing = await recv_until(op, "visitor:typing")
    assert typing["data"]["preview"] == "and"

    reply = await b.reply(op, first["chatId"], "hello from B", client_id="b-1")
    assert (await recv_until(v, "admin:message"))["data"]["message"]["id"] == reply["id"]
    # Idempotency holds across processes: the same clientId through A is the same message.
    v_again = await a.say(v, "again", client_id="v-1")
    op_a = await a.operator_ws(token)
    assert await b.reply(op_a, first["chatId"], "dup?", client_id="b-1") == reply
    assert sql("SELECT count(*) FROM messages WHERE client_id = 'b-1'")[0][0] == 1

    # Order: the operator on B sees A's messages in seq order.
    sent = [await a.say(v, f"n{i}") for i in range(10)]
    seen = []
    while len(seen) < 11:
        frame = await recv(op)
        if frame["type"] == "visitor:message":
            seen.append(frame["data"]["message"]["seq"])
    assert seen == [v_again["seq"]] + [m["seq"] for m in sent]


async def test_settings_and_presence_cross_processes(two):
    a, b = two
    token, _ = await a.register()
    site = await a.create_site(token)
    v = await a.visitor_ws(site["siteKey"])
    assert v.session["operatorsOnline"] == 0
    await b.operator_ws(token)
    assert (await recv_until(v, "operators:online", timeout=10))["data"]["count"] == 1
    status, _ = await b.call("PATCH", f"/api/v1/sites/{site['id']}/settings", token,
                             json={"color": "#123456"})
    assert status == 200
    pushed = await recv_until(v, "settings:update")
    assert pushed["data"]["settings"]["color"] == "#123456"


async def test_hours_saved_on_a_retime_the_flips_on_b(two):
    """Regression: saving business hours re-timed only the process that handled the save;
    the others kept the old flip timers (and status) until they restarted."""
    a, b = two
    token, _ = await a.register()
    site = await a.create_site(token)
    site_id = int(site["id"].removeprefix("s_"))  # the API says "s_<id>"
    engine_b = b.runner.app[keys.AUTOMATION]
    assert (await engine_b.business_status(site_id))["open"] is True
    # Closed every day of the week but one a month ahead: closed now, everywhere.
    day = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    body = {"enabled": True, "timezone": "Europe/Kyiv", "schedule": {},
            "exceptions": [{"date": day, "intervals": [["09:00", "10:00"]]}]}
    code, _ = await a.call("PUT", f"/api/v1/sites/{site['id']}/hours", token, json=body)
    assert code == 200
    for _ in range(250):
        if site_id in engine_b.hours:
            break
        await asyncio.sleep(0.02)
    status = await engine_b.business_status(site_id)
    assert status["open"] is False and status["nextOpenAt"].startswith(day)

    body["enabled"] = False
    code, _ = await a.call("PUT", f"/api/v1/sites/{site['id']}/hours", token, json=body)
    for _ in range(250):
        if site_id not in engine_b.hours:
            break
        await asyncio.sleep(0.02)
    assert (await engine_b.business_status(site_id))["open"] is True


async def test_lost_listen_connection_replays_without_gaps_or_duplicates(two, sql):
    a, b = two
    token, _ = await a.register()
    site = await a.create_site(token)
    op = await b.operator_ws(token)
    v = await a.visitor_ws(site["siteKey"])
    first = await a.say(v, "before the cut")
    await recv_until(op, "visitor:message")
    bus_b = b.runner.app[keys.BUS]

    # Cut B's LISTEN connection; messages stored meanwhile must still reach B.
    sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        (f"chatiq-listen-{bus_b.node}",))
    during = [await a.say(v, f"during {i}") for i in range(5)]
    await asyncio.sleep(0.2)
    for _ in range(100):  # the heartbeat notices within seconds and reconnects
        if bus_b.replays:
            break
        await asyncio.sleep(0.1)
    assert bus_b.replays >= 1
    after = await a.say(v, "after the cut")
    seqs = []
    while True:
        try:
            frame = await recv(op, timeout=1.5)
        except asyncio.TimeoutError:
            break
        if frame["type"] == "visitor:message":
            seqs.append(frame["data"]["message"]["seq"])
    assert seqs == [m["seq"] for m in during] + [after["seq"]]
    assert first["seq"] == 1


def _serve(port: int, data_dir: Path, database_url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "chatiq", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT, stdout=open(f"{data_dir}.log", "w"), stderr=subprocess.STDOUT,
        env={**os.environ, "DATABASE_URL": database_url, "CHATIQ_SECRET_KEY": "shared-secret-" + "s" * 30})


async def _healthy(session, url: str) -> None:
    for _ in range(300):
        try:
            async with session.get(url + "/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never became healthy")


async def test_two_real_processes_and_a_killed_one(database_url, tmp_path, sql,
                                                  unused_tcp_port_factory):
    from conftest import ChatHelper

    port_a, port_b = unused_tcp_port_factory(), unused_tcp_port_factory()
    proc_a = _serve(port_a, tmp_path / "a", database_url)
    proc_b = _serve(port_b, tmp_path / "b", database_url)
    try:
        async with aiohttp.ClientSession() as session:
            a = ChatHelper(session, f"http://127.0.0.1:{port_a}")
            b = ChatHelper(session, f"http://127.0.0.1:{port_b}")
            await _healthy(session, a.base)
            await _healthy(session, b.base)
            token, _ = await a.register()
            site = await a.create_site(token)
            op = await b.operator_ws(token)
            v = await a.visitor_ws(site["siteKey"])
            visitor_token = v.session["visitorToken"]
            first = await a.say(v, "hi")
            assert (await recv_until(op, "visitor:message"))["data"]["message"]["seq"] == 1
            acked = [await a.say(v, f"m{i}") for i in range(5)]
            for m in acked:
                got = await recv_until(op, "visitor:message")
                assert got["data"]["message"]["seq"] == m["seq"]

            proc_a.send_signal(signal.SIGKILL)  # A dies mid-conversation
            proc_a.wait()
            # The visitor moves to B, resends its (unacked) outbox and an acked one.
            v2 = await b.visitor_ws(site["siteKey"], visitorToken=visitor_token,
                                    lastSeq=acked[-1]["seq"])
            assert v2.session["history"] == []
            outbox = {str(uuid.uuid4()): "after the crash", acked[-1]["clientId"]: "m4"}
            for cid, text in outbox.items():
                await b.say(v2, text, client_id=cid)
            reply = await b.reply(op, first["chatId"], "still here")
            assert (await recv_until(v2, "admin:message"))["data"]["message"]["id"] == reply["id"]
    finally:
        for proc in (proc_a, proc_b):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
    rows = sql("SELECT seq, text FROM messages ORDER BY seq")
    assert [r[0] for r in rows] == list(range(1, 9))
    assert [r[1] for r in rows] == ["hi", "m0", "m1", "m2", "m3", "m4", "after the crash", "still here"]

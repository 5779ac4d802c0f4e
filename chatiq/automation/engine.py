"""The automation engine: auto-replies and business-hours status for every site.

The sockets tell it about stored messages; it answers with bot messages (stored once
per occurrence, see store/automation.fire) and keeps one timer per site for the next
open/closed flip plus one per waiting delayed rule. Timers live in the database, so a
restart rebuilds them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from chatiq.core import fanout, protocol
from chatiq.core.fanout import Posted
from chatiq.automation import hours as hours_mod
from chatiq.automation.clock import Clock, Timer
from chatiq.core.hub import Hub
from chatiq.store import automation as store
from chatiq.core.languages import in_language, language_of
from chatiq.store import sites, visitors
from chatiq.store.writer import MessageWriter, Post

log = logging.getLogger(__name__)

# The bus topic on which a process says it saved a site's business hours.
HOURS_TOPIC = "hours"

# How stale another process\'s rule edits may be seen here.
RULES_CACHE_SECONDS = 5.0

_ALWAYS_OPEN = hours_mod.Status(True, None, None)
# On shutdown, how long answers already being stored may take to finish.
SHUTDOWN_GRACE_SECONDS = 5.0


class Automation:
    def __init__(self, pool, hub: Hub, clock: Clock, writer: MessageWriter):
        self.pool = pool
        self.writer = writer  # bot messages take the one write path, like everyone's
        self.hub = hub
        self.clock = clock
        # site id → that site's hours, for every site whose hours are enabled
        self.hours: dict[int, hours_mod.Hours] = {}
        # site id → the status last computed (and pushed) for it
        self.status: dict[int, hours_mod.Status] = {}
        # site id → the timer for that site's next open/closed flip
        self.flip_timers: dict[int, Timer] = {}
        # (rule id, chat id) → the timer of a delayed auto-reply waiting in that chat
        self.reply_timers: dict[tuple[int, int], Timer] = {}
        # chat id → the rules with a timer waiting in that chat (reply_timers by chat)
        self._waiting: dict[int, set[int]] = {}
        # tasks answering visitor messages heard but not yet answered
        self.busy: set[asyncio.Task] = set()
        # site id → (monotonic expiry, enabled rules): read on every visitor message, so
        # cached; edits here drop the entry, edits in another process age out.
        self._rules: dict[int, tuple[float, list]] = {}
        # How saved hours reach the other processes sharing the database (the bus's
        # `signal`); None when this process is alone.
        self.tell_others: Callable[[str, dict], None] | None = None

    # --- lifecycle ---

    async def start(self) -> None:
        for row in await store.enabled_hours_rows(self.pool):
            self._set_hours(row["site_id"], hours_mod.hours_from_row(row), announce=False)
        for pending in await store.pending_timers(self.pool):
            self._schedule_reply(pending.rule_id, pending.chat_id, pending.site_id,
                                 pending.occurrence, pending.operator_seq, pending.due_at)
        log.info("automation: %d sites with hours, %d waiting auto-replies",
                 len(self.hours), len(self.reply_timers))

    async def close(self) -> None:
        if self.busy:  # answers being stored finish; a stuck database does not hold us
            await asyncio.wait(list(self.busy), timeout=SHUTDOWN_GRACE_SECONDS)
            for task in list(self.busy):
                task.cancel()
        for timer in [*self.flip_timers.values(), *self.reply_timers.values()]:
            timer.cancel()
        self.flip_timers.clear()
        self.reply_timers.clear()
        self._waiting.clear()
        await self.clock.close()

    # --- business hours ---

    async def business_status(self, site_id: int) -> dict:
        """{open, nextOpenAt} now; a site without enabled hours is always open."""
        hours = self.hours.get(site_id)
        if hours is None:
            return {"open": True, "nextOpenAt": None}
        return hours_mod.status_at(hours, self.clock.now()).as_json()

    async def is_open(self, site_id: int) -> bool:
        return (await self.business_status(site_id))["open"]

    def hours_changed(self, site_id: int, hours: hours_mod.Hours) -> None:
        """New hours were saved: re-time the flips and tell open widgets if it changed."""
        self._set_hours(site_id, hours, announce=True)
        if self.tell_others is not None:
            self.tell_others(HOURS_TOPIC, {"site": site_id})

    async def reload_hours(self, data: dict) -> None:
        """Another process saved a site's hours: re-time its flips here too. That process
        already told every widget, ours included, so this one stays quiet."""
        site_id = int(data["site"])
        self._set_hours(site_id, hours_mod.hours_from_row(await store.hours_row(self.pool, site_id)),
                        announce=False)

    def _set_hours(self, site_id: int, hours: hours_mod.Hours, *, announce: bool) -> None:
        timer = self.flip_timers.pop(site_id, None)
        if timer is not None:
            timer.cancel()
        before = self.status.pop(site_id, _ALWAYS_OPEN)
        if hours.enabled:
            self.hours[site_id] = hours
            after = self._retime(site_id, self.clock.now())
        else:
            self.hours.pop(site_id, None)
            after = _ALWAYS_OPEN
        if announce:
            self._announce_change(site_id, before, after, relay=True)

    def _retime(self, site_id: int, at) -> hours_mod.Status:
        """The site's status at `at`, remembered, with a timer set for its next flip."""
        status = hours_mod.status_at(self.hours[site_id], at)
        self.status[site_id] = status
        if status.changes_at is not None:
            when = status.changes_at
            self.flip_timers[site_id] = self.clock.call_at(when, lambda: self._flip(site_id, when))
        return status

    async def _flip(self, site_id: int, when) -> None:
        """The scheduled instant of a flip: a timer that woke a hair early still counts."""
        self.flip_timers.pop(site_id, None)
        if site_id not in self.hours:
            return
        before = self.status.get(site_id, _ALWAYS_OPEN)
        after = self._retime(site_id, max(when, self.clock.now()))
        self._announce_change(site_id, before, after)

    def _announce_change(self, site_id: int, before: hours_mod.Status,
                         after: hours_mod.Status, *, relay: bool = False) -> None:
        if (before.open, before.next_open_at) != (after.open, after.next_open_at):
            self._announce(site_id, after, relay=relay)

    def _announce(self, site_id: int, status: hours_mod.Status, *, relay: bool) -> None:
        """relay: also to other processes' widgets, for a change saved here; a timed
        flip is announced by every process to its own widgets."""
        self.hub.to_site_visitors(site_id, protocol.encode("business:status", status.as_json()),
                                  relay=relay)

    # --- auto-replies ---

    async def visitor_message(self, site: sites.Site, posted: Posted) -> None:
        """A visitor's message was stored and fanned out: answer it if a rule says so.

        The answer is worked out in a task, so the visitor's ack is not held up and
        arrives before the auto-reply.
        """
        task = asyncio.get_running_loop().create_task(self._visitor_message(site, posted))
        self.busy.add(task)
        task.add_done_callback(self._done)

    async def _enabled_rules(self, site_id: int) -> list:
        now = time.monotonic()
        cached = self._rules.get(site_id)
        if cached is None or cached[0] < now:
            rules = await store.rules_for_site(self.pool, site_id, enabled_only=True)
            cached = self._rules[site_id] = (now + RULES_CACHE_SECONDS, rules)
        return cached[1]

    def rules_changed(self, site_id: int) -> None:
        """A rule of the site was created, edited or deleted in this process."""
        self._rules.pop(site_id, None)

    def _done(self, task: asyncio.Task) -> None:
        self.busy.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("automation failed for a visitor message", exc_info=task.exception())

    async def settle(self) -> None:
        """Wait until the answers to messages already heard are stored and sent."""
        while self.busy:
            await asyncio.gather(*list(self.busy), return_exceptions=True)

    async def _visitor_message(self, site: sites.Site, posted: Posted) -> None:
        message = posted.message
        chat_id = message["chat_id"]
        if posted.chat_created and await store.store_greeting(self.pool, site.id):
            await self._welcome(site.id, chat_id)
        rules = [r for r in await self._enabled_rules(site.id) if r.matches(message["text"])]
        if not rules:
            return
        operator_seq = await store.last_operator_seq(self.pool, chat_id)
        if operator_seq > message["seq"]:
            return  # the team answered before we got to it
        offline = None
        for rule in rules:
            if rule.trigger == "first_message":
                if not posted.chat_created:
                    continue
                occurrence = "first"
            elif rule.trigger == "offline":
                if offline is None:
                    offline = (not await self.is_open(site.id)
                               or self.hub.operators_online(site.id) == 0)
                if not offline:
                    continue
                occurrence = f"after:{operator_seq}"
            else:  # keyword, no_reply: once between two replies of the team
                occurrence = f"after:{operator_seq}"
            if rule.trigger == "no_reply" or rule.delay_seconds > 0:
                await self._wait(rule, chat_id, site.id, occurrence, operator_seq)
            else:
                await self._fire(site.id, chat_id, occurrence, rule_id=rule.id)

    async def operator_message(self, site_id: int, posted: Posted) -> None:
        """The team answered: every auto-reply waiting in this chat is off.

        Only timers this process holds are dropped here, so an answer in a chat with
        nothing waiting costs no query. A timer another process holds for the chat
        checks for an answer when it fires (store.fire compares the team's last seq)
        and then stores nothing."""
        chat_id = posted.message["chat_id"]
        if chat_id not in self._waiting:
            return
        try:
            self._waiting.pop(chat_id, None)
            for rule_id in await store.drop_chat_timers(self.pool, chat_id):
                timer = self.reply_timers.pop((rule_id, chat_id), None)
                if timer is not None:
                    timer.cancel()
        except Exception:
            log.exception("automation failed for an operator message in site %s", site_id)

    async def _welcome(self, site_id: int, chat_id: int) -> None:
        settings = await sites.widget_settings(self.pool, site_id)
        greeting = in_language(settings.get("greetings"), language_of(  # the visitor's (issue 21)
            await visitors.language_in_chat(self.pool, chat_id)), settings.get("greeting"))
        if not greeting or not greeting.strip():
            return
        await self._store(store.AutoReplyDue(chat_id=chat_id, occurrence="welcome",
                                             text=greeting))

    async def _wait(self, rule: store.Rule, chat_id: int, site_id: int, occurrence: str,
                    operator_seq: int) -> None:
        if await store.already_fired(self.pool, rule.id, chat_id, occurrence):
            return
        due = self.clock.now() + timedelta(seconds=rule.delay_seconds)
        if await store.add_timer(self.pool, rule_id=rule.id, chat_id=chat_id,
                                 occurrence=occurrence, operator_seq=operator_seq, due_at=due):
            self._schedule_reply(rule.id, chat_id, site_id, occurrence, operator_seq, due)

    def _schedule_reply(self, rule_id: int, chat_id: int, site_id: int, occurrence: str,
                        operator_seq: int, due) -> None:
        async def due_now() -> None:
            self.reply_timers.pop((rule_id, chat_id), None)
            rules = self._waiting.get(chat_id)
            if rules is not None:
                rules.discard(rule_id)
                if not rules:
                    del self._waiting[chat_id]
            await self._fire(site_id, chat_id, occurrence, rule_id=rule_id,
                             timer_operator_seq=operator_seq)

        old = self.reply_timers.pop((rule_id, chat_id), None)
        if old is not None:
            old.cancel()
        self.reply_timers[(rule_id, chat_id)] = self.clock.call_at(due, due_now)
        self._waiting.setdefault(chat_id, set()).add(rule_id)

    async def _fire(self, site_id: int, chat_id: int, occurrence: str, *, rule_id: int,
                    timer_operator_seq: int | None = None) -> None:
        await self._store(store.AutoReplyDue(chat_id=chat_id, occurrence=occurrence,
                                             rule_id=rule_id,
                                             timer_operator_seq=timer_operator_seq))

    async def _store(self, due: store.AutoReplyDue) -> None:
        """A bot message like any other, here and on other processes; stored only if the
        guard finds it still due."""
        posted = await self.writer.post(Post("bot", None, "", chat_id=due.chat_id, guard=due))
        if posted is not None:
            fanout.stored(self.hub, posted, sender=None)

// The live chats view: list, active conversation and visitor details over /ws/operator.
// Every piece of user text goes in with textContent, never as HTML.

import { clockIn, shortTime } from "./format.js";
import { OperatorSocket } from "./socket.js";

const REACTIONS = ["👍", "❤️", "😂", "😮", "🙏"];
// Icons as SVG paths, as the widget draws them: no icon font, no colour-emoji font needed.
const SMILE = "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM8 14s1.5 2 4 2 4-2 4-2M9 9.5h.01M15 9.5h.01";
const SVG = "http://www.w3.org/2000/svg";
const OLDER_PAGE = 50;
const TYPING_IDLE_MS = 3000;
const TYPING_PREVIEW_TTL_MS = 10000;

const app = document.getElementById("chat-app");
if (app) start(app);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function svgIcon(path) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const p = document.createElementNS(SVG, "path");
  p.setAttribute("d", path);
  svg.append(p);
  return svg;
}

function newClientId() {
  return crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function start(app) {
  const S = JSON.parse(app.dataset.strings);
  const me = app.dataset.userId;
  const activeId = app.dataset.activeChat || null;
  const filter = app.dataset.filter;
  const searching = app.dataset.query !== "";
  const listQuery = app.dataset.listQuery;
  const list = document.getElementById("chat-list");
  const connState = document.getElementById("conn-state");
  const baseTitle = document.title;
  const notifyKey = `chatiq.notify.${me}`;

  const state = {
    lastSeq: 0,            // newest seq shown in the active chat: the resume cursor
    oldestSeq: null,       // oldest seq shown: where scrolling back continues
    noMoreOlder: false,
    loadingOlder: false,
    visitorReadSeq: Number(app.dataset.visitorReadSeq) || 0,
    subscribed: false,
    outbox: new Map(),     // clientId → {text, node}: replies not yet acked, resent on reconnect
    typingSent: 0,
    typingTimer: null,
    previewTimer: null,
  };

  const socket = new OperatorSocket({
    onState: showConnection,
    onReady: ready,
    onEvent: handle,
  });

  // ---- connection ----

  function showConnection(name) {
    connState.dataset.state = name;
    connState.textContent = S[name] || name;
  }

  async function ready() {
    if (activeId) await subscribe();
  }

  async function subscribe() {
    const data = { chatId: activeId };
    if (state.subscribed) data.lastSeq = state.lastSeq;
    try {
      const ack = await socket.request("chat:subscribe", data);
      state.subscribed = true;
      applyChat(ack.chat);
      if (state.oldestSeq === null && ack.messages.length) {
        state.oldestSeq = ack.messages[0].seq;
        state.noMoreOlder = ack.messages[0].seq <= 1;
      } else if (!ack.messages.length && state.oldestSeq === null) {
        state.noMoreOlder = true;
      }
      for (const message of ack.messages) addMessage(message);
      scrollToEnd();
      markRead();
      for (const [clientId, item] of state.outbox) deliver(clientId, item);
    } catch (err) {
      console.warn("chatiq: subscribe failed", err);
    }
  }

  function handle(frame) {
    const data = frame.data || {};
    switch (frame.type) {
      case "chat:new":
        upsertChat(data.chat, true);
        notifyNewChat();
        break;
      case "chat:updated":
        upsertChat(data.chat, false);
        if (data.chat.id === activeId) applyChat(data.chat);
        break;
      case "visitor:message":
      case "operator:message":
        onMessage(data.message);
        break;
      case "visitor:typing":
        if (data.chatId === activeId) showTyping(data.typing, data.preview);
        break;
      case "visitor:read":
        if (data.chatId === activeId) {
          state.visitorReadSeq = Math.max(state.visitorReadSeq, data.seq);
          refreshReceipts();
        }
        break;
      case "visitor:online":
      case "visitor:offline":
        if (data.chatId === activeId) showPresence(frame.type === "visitor:online");
        break;
      case "visitor:page":
        if (data.chatId === activeId) showPage(data.pageUrl, data.pageTitle);
        break;
      case "message:reaction":
        if (data.chatId === activeId) showReactions(data.messageId, data.reactions);
        break;
      case "presence":
      case "operators:online":
      case "error":
        break;
      default:
        console.debug("chatiq: unhandled event", frame.type);
    }
  }

  // ---- the chat list ----

  function matchesFilter(chat) {
    switch (filter) {
      case "open": return chat.status === "open";
      case "mine": return chat.status === "open" && chat.assignedTo === me;
      case "unassigned": return chat.status === "open" && !chat.assignedTo;
      case "closed": return chat.status === "closed";
      default: return true;
    }
  }

  function chatItem(id) {
    return list.querySelector(`li[data-chat-id="${CSS.escape(id)}"]`);
  }

  function buildItem(chat) {
    const li = el("li", "chat-item");
    li.dataset.chatId = chat.id;
    const a = el("a");
    a.href = `/admin/chats/${encodeURIComponent(chat.id)}${listQuery}`;
    a.append(el("span", "chat-name"), el("time", "chat-time"), el("span", "chat-preview"));
    const badge = el("span", "badge unread");
    badge.hidden = true;
    a.append(badge);
    li.append(a);
    if (chat.id === activeId) li.classList.add("active");
    return li;
  }

  // The wire says "Visitor #N" for a visitor without a name; the panel says it in its language.
  function visitorName(who) {
    return who.anonymous ? S.visitor_anonymous.replace("{n}", String(who.id).replace(/^v_/, "")) : who.name;
  }

  function fillItem(li, chat) {
    li.dataset.status = chat.status;
    li.dataset.assigned = chat.assignedTo || "";
    li.dataset.updated = chat.updatedAt;
    li.dataset.lastSeq = String(chat.lastSeq);
    const name = li.querySelector(".chat-name");
    name.textContent = visitorName(chat.visitor);
    name.dataset.verified = chat.visitor.verified ? "true" : "";  // the ✓ comes from panel.css
    name.title = chat.visitor.verified ? S.verified : "";
    const time = li.querySelector(".chat-time");
    time.dateTime = chat.updatedAt;
    time.textContent = shortTime(chat.updatedAt);
    if (chat.lastMessage) {
      li.querySelector(".chat-preview").textContent =
        chat.lastMessage.text || (chat.lastMessage.hasAttachment ? S.attachment : "");
    }
    setUnread(li, chat.id === activeId ? 0 : chat.unread);
    let tag = li.querySelector(".tag");
    if (chat.status === "closed" && !tag) {
      tag = el("span", "tag", S.status_closed);
      li.querySelector("a").append(tag);
    } else if (chat.status === "open" && tag) {
      tag.remove();
    }
  }

  function upsertChat(chat, isNew) {
    let li = chatItem(chat.id);
    if (!matchesFilter(chat) && chat.id !== activeId) {
      if (li) li.remove();
      updateEmpty();
      return;
    }
    if (!li) {
      if (searching) return; // a search result list only changes when searched again
      li = buildItem(chat);
      list.prepend(li);
    } else if (isNew || li.dataset.updated !== chat.updatedAt) {
      list.prepend(li);
    }
    fillItem(li, chat);
    updateEmpty();
  }

  function setUnread(li, count) {
    const badge = li.querySelector(".badge.unread");
    badge.textContent = String(count || 0);
    badge.hidden = !count;
    updateTitle();
  }

  function updateEmpty() {
    document.getElementById("empty-list").hidden = list.children.length > 0;
  }

  function touchItem(message) {
    const li = chatItem(message.chatId);
    // The summary that built the item may already count this message.
    if (!li || message.seq <= Number(li.dataset.lastSeq || 0)) return;
    li.dataset.lastSeq = String(message.seq);
    li.querySelector(".chat-preview").textContent =
      message.text || (message.attachment ? S.attachment : "");
    const time = li.querySelector(".chat-time");
    time.dateTime = message.createdAt;
    time.textContent = shortTime(message.createdAt);
    li.dataset.updated = message.createdAt;
    list.prepend(li);
    if (message.author.kind === "visitor" && message.chatId !== activeId) {
      const badge = li.querySelector(".badge.unread");
      setUnread(li, (Number(badge.textContent) || 0) + 1);
    }
  }

  for (const time of list.querySelectorAll("time.chat-time")) {
    time.textContent = shortTime(time.dateTime);
  }

  // ---- notifications: a sound and a title badge, per operator ----

  const soundToggle = document.getElementById("sound-toggle");
  soundToggle.checked = localStorage.getItem(notifyKey) !== "off";
  soundToggle.addEventListener("change", () => {
    localStorage.setItem(notifyKey, soundToggle.checked ? "on" : "off");
    updateTitle();
  });
  let audio = null;
  document.addEventListener("pointerdown", () => {
    // Browsers only let a page play sound after a gesture: prepare it on the first one.
    if (!audio && window.AudioContext) audio = new AudioContext();
  }, { once: true });

  function beep() {
    if (!audio) return;
    const now = audio.currentTime;
    for (const [i, freq] of [880, 1320].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.15);
      gain.gain.exponentialRampToValueAtTime(0.2, now + i * 0.15 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.15 + 0.14);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.15);
      osc.stop(now + i * 0.15 + 0.15);
    }
  }

  function notifyNewChat() {
    if (!soundToggle.checked) return;
    beep();
    updateTitle();
  }

  function updateTitle() {
    let unread = 0;
    for (const badge of list.querySelectorAll(".badge.unread")) unread += Number(badge.textContent) || 0;
    document.title = soundToggle.checked && unread ? `(${unread}) ${baseTitle}` : baseTitle;
  }

  // ---- the resizable split ----

  const splitter = document.getElementById("splitter");
  const savedWidth = Number(localStorage.getItem("chatiq.listWidth"));
  // A focusable separator is a slider to assistive technology: it says where it is.
  splitter.setAttribute("aria-valuemax", String(Math.round(Math.max(200, window.innerWidth * 0.6))));
  if (savedWidth) showWidth(savedWidth);
  function showWidth(width) {
    app.style.setProperty("--list-width", `${width}px`);
    splitter.setAttribute("aria-valuenow", String(Math.round(width)));
  }
  function setWidth(px) {
    const width = Math.max(200, Math.min(px, window.innerWidth * 0.6));
    showWidth(width);
    localStorage.setItem("chatiq.listWidth", String(Math.round(width)));
  }
  splitter.addEventListener("pointerdown", (event) => {
    splitter.setPointerCapture(event.pointerId);
    const move = (e) => setWidth(e.clientX - app.getBoundingClientRect().left);
    splitter.addEventListener("pointermove", move);
    splitter.addEventListener("pointerup", () => splitter.removeEventListener("pointermove", move), { once: true });
  });
  splitter.addEventListener("keydown", (event) => {
    const pane = document.getElementById("chat-list-pane");
    if (event.key === "ArrowLeft") setWidth(pane.offsetWidth - 20);
    if (event.key === "ArrowRight") setWidth(pane.offsetWidth + 20);
  });

  socket.connect();
  if (!activeId) return;

  // ---- the active chat ----

  const messages = document.getElementById("messages");
  const messageList = document.getElementById("message-list");
  const olderState = document.getElementById("older-state");
  const olderLoadingText = olderState.textContent;
  const form = document.getElementById("reply-form");
  const textarea = document.getElementById("reply-text");
  const menu = document.getElementById("template-menu");

  function nearBottom() {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  }

  function scrollToEnd() {
    messages.scrollTop = messages.scrollHeight;
  }

  // Images grow their message when they decode, after the view was scrolled to the end:
  // an operator who was at the end stays there (their own scrolling is what unpins them).
  let pinned = true;
  messages.addEventListener("scroll", () => { pinned = nearBottom(); });
  messages.addEventListener("load", () => { if (pinned) scrollToEnd(); }, true);

  function authorName(message) {
    const author = message.author;
    if (author.kind === "bot") return author.name || S.bot;
    if (author.kind === "system") return author.name || S.system;
    if (author.kind === "visitor") return visitorName(author);
    return author.name || "";
  }

  // A bubble sized to its content: the attachment, the text, then one line with the author,
  // the time, the receipt and the reactions; the reaction picker sits beside the bubble.
  function renderMessage(message) {
    const li = el("li", `msg msg-${message.author.kind}`);
    li.dataset.id = message.id;
    li.dataset.seq = String(message.seq);
    if (message.clientId) li.dataset.clientId = message.clientId;
    const bubble = el("div", "bubble");
    li.append(bubble);
    const meta = el("div", "meta");
    meta.append(el("span", "author", authorName(message)));
    const time = el("time", "", shortTime(message.createdAt));
    time.dateTime = message.createdAt;
    meta.append(time);
    if (message.author.kind !== "visitor") meta.append(receiptMark());
    if (message.attachment) {
      const link = el("a", "attachment", message.attachment.thumbUrl ? "" : (message.attachment.name || S.attachment));
      if (message.attachment.thumbUrl) {
        const img = el("img", "thumb");
        img.src = message.attachment.thumbUrl;
        img.alt = message.attachment.name || S.attachment;
        link.append(img);
      }
      link.href = message.attachment.url;
      link.target = "_blank";
      link.rel = "noopener";
      bubble.append(link);
    }
    if (message.text) bubble.append(el("div", "text", message.text));
    meta.append(el("span", "reactions"));
    bubble.append(meta);
    const picker = el("div", "react-picker");
    const toggle = el("button", "react-toggle");
    toggle.type = "button";
    toggle.title = S.react;
    toggle.setAttribute("aria-label", S.react);
    toggle.setAttribute("aria-expanded", "false");
    toggle.append(svgIcon(SMILE));
    picker.append(toggle);
    for (const emoji of REACTIONS) {
      const b = el("button", "react-choice", emoji);
      b.type = "button";
      b.dataset.emoji = emoji;
      b.hidden = true;
      picker.append(b);
    }
    li.append(picker);
    fillReactions(li, message.reactions || {});
    fillReceipt(li);
    return li;
  }

  function fillReactions(li, reactions) {
    const box = li.querySelector(".reactions");
    box.replaceChildren();
    for (const [emoji, who] of Object.entries(reactions)) {
      if (!who.length) continue;
      const b = el("button", "reaction", `${emoji} ${who.length}`);
      b.type = "button";
      b.dataset.emoji = emoji;
      if (who.includes(me)) b.classList.add("mine");
      box.append(b);
    }
  }

  function fillReceipt(li) {
    const receipt = li.querySelector(".receipt");
    if (!receipt || li.classList.contains("pending")) return;
    const read = Number(li.dataset.seq) <= state.visitorReadSeq;
    receipt.textContent = read ? "✓✓" : "✓";
    receipt.title = read ? S.read : S.sent;
    receipt.setAttribute("aria-label", receipt.title);
    receipt.classList.toggle("read", read);
  }

  function receiptMark(text) {
    const mark = el("span", "receipt", text);
    mark.setAttribute("role", "img");  // a ✓ that says "Sent" / "Read" to screen readers
    return mark;
  }

  function refreshReceipts() {
    for (const li of messageList.querySelectorAll("li.msg")) fillReceipt(li);
  }

  function showReactions(messageId, reactions) {
    const li = messageList.querySelector(`li[data-id="${CSS.escape(messageId)}"]`);
    if (li) fillReactions(li, reactions);
  }

  // Insert by seq; a message already shown (same id) is left alone.
  function addMessage(message) {
    if (messageList.querySelector(`li[data-id="${CSS.escape(message.id)}"]`)) return;
    const pending = message.clientId &&
      messageList.querySelector(`li.pending[data-client-id="${CSS.escape(message.clientId)}"]`);
    const node = renderMessage(message);
    if (pending) pending.remove();
    let before = null;
    for (const other of messageList.querySelectorAll("li.msg:not(.pending)")) {
      if (Number(other.dataset.seq) > message.seq) { before = other; break; }
    }
    if (!before) before = messageList.querySelector("li.pending");
    messageList.insertBefore(node, before);
    state.lastSeq = Math.max(state.lastSeq, message.seq);
    if (state.oldestSeq === null || message.seq < state.oldestSeq) state.oldestSeq = message.seq;
  }

  function onMessage(message) {
    touchItem(message);
    if (message.chatId !== activeId) return;
    if (!state.subscribed) return; // the subscribe ack will bring it
    if (message.seq > state.lastSeq + 1) {
      subscribe(); // a gap: fetch everything after our cursor, in order
      return;
    }
    const stick = nearBottom();
    addMessage(message);
    if (message.author.kind === "visitor") {
      showTyping(false);
      showPresence(true);
    }
    if (stick) scrollToEnd();
    markRead();
  }

  function markRead() {
    if (document.visibilityState !== "visible" || !state.lastSeq) return;
    socket.send("operator:read", { chatId: activeId, seq: state.lastSeq });
    const li = chatItem(activeId);
    if (li) setUnread(li, 0);
  }
  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("focus", markRead);

  // ---- scrolling back ----

  messages.addEventListener("scroll", () => {
    if (messages.scrollTop < 80) loadOlder();
  });

  async function loadOlder() {
    if (state.loadingOlder || state.noMoreOlder || state.oldestSeq === null) return;
    state.loadingOlder = true;
    olderState.hidden = false;
    olderState.textContent = olderLoadingText;
    try {
      const url = `/admin/api/chats/${encodeURIComponent(activeId)}/messages?beforeSeq=${state.oldestSeq}&limit=${OLDER_PAGE}`;
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      const body = await response.json();
      const height = messages.scrollHeight;
      for (const message of body.messages.reverse()) {
        if (messageList.querySelector(`li[data-id="${CSS.escape(message.id)}"]`)) continue;
        messageList.prepend(renderMessage(message));
        state.oldestSeq = Math.min(state.oldestSeq, message.seq);
      }
      messages.scrollTop += messages.scrollHeight - height;
      if (body.messages.length < OLDER_PAGE || state.oldestSeq <= 1) state.noMoreOlder = true;
      olderState.hidden = true;
    } catch (err) {
      olderState.textContent = S.older_failed;
    } finally {
      state.loadingOlder = false;
    }
  }

  // ---- reactions ----

  messageList.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const li = button.closest("li.msg");
    if (button.classList.contains("react-toggle")) {
      const open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      li.classList.toggle("picking", open);
      for (const choice of li.querySelectorAll(".react-choice")) choice.hidden = !open;
      if (open) li.querySelector(".react-choice").focus();
      return;
    }
    if (!button.dataset.emoji || !li.dataset.id) return;
    for (const choice of li.querySelectorAll(".react-choice")) choice.hidden = true;
    li.classList.remove("picking");
    li.querySelector(".react-toggle").setAttribute("aria-expanded", "false");
    try {
      const ack = await socket.request("message:react", { messageId: li.dataset.id, emoji: button.dataset.emoji });
      fillReactions(li, ack.message.reactions);
    } catch (err) {
      console.warn("chatiq: reaction failed", err);
    }
  });

  // ---- the visitor's details: beside the chat on wide screens, behind a button on narrow ----

  const visitorToggle = document.getElementById("visitor-toggle");
  function showVisitor(open) {
    visitorToggle.setAttribute("aria-expanded", String(open));
    app.classList.toggle("show-visitor", open);
  }
  visitorToggle.addEventListener("click", () => showVisitor(visitorToggle.getAttribute("aria-expanded") !== "true"));
  document.getElementById("visitor-close").addEventListener("click", () => {
    showVisitor(false);
    visitorToggle.focus();
  });
  document.getElementById("visitor-pane").addEventListener("keydown", (event) => {
    if (event.key === "Escape") { showVisitor(false); visitorToggle.focus(); }
  });

  // ---- typing preview, presence and page ----

  const typingBox = document.getElementById("typing-preview");
  const typingText = document.getElementById("typing-text");
  function showTyping(typing, preview) {
    clearTimeout(state.previewTimer);
    typingBox.hidden = !typing;
    typingText.textContent = typing ? (preview || "…") : "";
    if (typing) {
      showPresence(true);
      state.previewTimer = setTimeout(() => showTyping(false), TYPING_PREVIEW_TTL_MS);
    }
  }

  const presence = document.getElementById("visitor-presence");
  function showPresence(online) {
    presence.dataset.online = String(online);
    presence.textContent = online ? S.online : S.offline;
  }

  function showPage(url, title) {
    const box = document.getElementById("visitor-page");
    box.replaceChildren();
    if (!url) { box.textContent = "—"; return; }
    const a = el("a", "", title || url);
    a.href = /^https?:\/\//i.test(url) ? url : "#";
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    box.append(a);
    showPresence(true);
  }

  const clock = document.getElementById("visitor-clock");
  if (clock && clock.dataset.timezone) {
    const tick = () => { clock.textContent = clockIn(clock.dataset.timezone) || "—"; };
    tick();
    setInterval(tick, 30000);
  }

  // ---- an inline notice above the reply box (as the widget shows), never a native alert ----

  const noticeBox = document.getElementById("reply-notice");
  let noticeTimer = null;
  function notice(text) {
    noticeBox.textContent = text;
    noticeBox.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { noticeBox.hidden = true; }, 8000);
  }

  // ---- close, reopen, assign ----

  const closeButton = document.getElementById("close-chat");
  const reopenButton = document.getElementById("reopen-chat");
  const assignSelect = document.getElementById("assign-select");
  const statusTag = document.getElementById("chat-status");

  function applyChat(chat) {
    statusTag.dataset.status = chat.status;
    statusTag.textContent = chat.status === "open" ? S.status_open : S.status_closed;
    closeButton.hidden = chat.status !== "open";
    reopenButton.hidden = chat.status === "open";
    assignSelect.value = chat.assignedTo || "";
    if (chat.visitorOnline !== undefined) showPresence(chat.visitorOnline);  // (ext) in the subscribe ack
    if (chat.visitorReadSeq !== undefined) {
      state.visitorReadSeq = Math.max(state.visitorReadSeq, chat.visitorReadSeq);
      refreshReceipts();
    }
    const li = chatItem(chat.id);
    if (li) fillItem(li, chat);
  }

  async function act(type, data) {
    try {
      const ack = await socket.request(type, { chatId: activeId, ...data });
      if (ack.chat) applyChat(ack.chat);
    } catch (err) {
      notice(S.action_failed.replace("{message}", err.message));
    }
  }
  closeButton.addEventListener("click", () => act("chat:close", {}));
  reopenButton.addEventListener("click", () => act("chat:reopen", {}));
  assignSelect.addEventListener("change", () => act("chat:assign", { operatorId: assignSelect.value || null }));

  // ---- replying ----

  function pendingNode(clientId, text) {
    const li = el("li", "msg msg-operator pending");
    li.dataset.clientId = clientId;
    const bubble = el("div", "bubble");
    const meta = el("div", "meta");
    meta.append(el("span", "author", app.dataset.userName), receiptMark("…"));
    bubble.append(el("div", "text", text), meta);
    li.append(bubble);
    messageList.append(li);
    scrollToEnd();
    return li;
  }

  async function deliver(clientId, item) {
    try {
      const frame = { chatId: activeId, clientId, text: item.text };
      if (item.attachmentId) frame.attachmentId = item.attachmentId;
      const ack = await socket.request("operator:message", frame);
      state.outbox.delete(clientId);
      item.node.remove();
      addMessage(ack.message);
      scrollToEnd();
    } catch (err) {
      if (err.code === "invalid" || err.code === "not_found" || err.code === "too_large") {
        state.outbox.delete(clientId);
        item.node.remove();
        notice(S.action_failed.replace("{message}", err.message));
      } else {
        item.node.querySelector(".receipt").textContent = "!";
        item.node.title = S.failed; // resent with the same clientId after reconnecting
      }
    }
  }

  function send() {
    const text = textarea.value;
    if (!text.trim()) return;
    textarea.value = "";
    hideMenu();
    stopTyping();
    const clientId = newClientId();
    const item = { text, node: pendingNode(clientId, text) };
    state.outbox.set(clientId, item);
    deliver(clientId, item);
  }

  // ---- attachments: uploaded first, then sent as a message that names them ----

  const fileInput = document.getElementById("reply-file");
  const attachButton = document.getElementById("attach-button");
  const MAX_UPLOAD = 10 * 1024 * 1024;

  attachButton.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    if (file.size > MAX_UPLOAD) {
      notice(S.too_big);
      return;
    }
    const body = new FormData();
    body.append("chatId", activeId); // fields before the file: the server checks them first
    body.append("file", file, file.name);
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const clientId = newClientId();
    const item = { text: "", attachmentId: null, node: pendingNode(clientId, file.name) };
    try {
      const response = await fetch("/admin/api/uploads", {
        method: "POST", body, credentials: "same-origin", headers: { "X-CSRF-Token": csrf },
      });
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.error ? answer.error.message : response.statusText);
      item.attachmentId = answer.attachment.id;
    } catch (err) {
      item.node.remove();
      notice(S.upload_failed.replace("{message}", err.message));
      return;
    }
    state.outbox.set(clientId, item);
    deliver(clientId, item);
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.typingSent) {
      socket.send("operator:typing", { chatId: activeId, typing: false });
      state.typingSent = 0;
    }
  }

  textarea.addEventListener("input", () => {
    const now = Date.now();
    if (now - state.typingSent > 2000) {
      socket.send("operator:typing", { chatId: activeId, typing: true });
      state.typingSent = now;
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
    updateMenu();
  });

  // ---- quick templates: "/" + shortcut ----

  const options = Array.from(menu.querySelectorAll("li[data-shortcut]"));
  let highlighted = -1;

  function visibleOptions() {
    return options.filter((o) => !o.hidden);
  }

  function updateMenu() {
    const match = /^\/(\S*)$/.exec(textarea.value);
    if (!match || !options.length) { hideMenu(); return; }
    const prefix = match[1].toLowerCase();
    for (const option of options) option.hidden = !option.dataset.shortcut.toLowerCase().startsWith(prefix);
    const shown = visibleOptions();
    menu.hidden = shown.length === 0;
    highlight(shown.length ? 0 : -1);
  }

  function highlight(index) {
    const shown = visibleOptions();
    highlighted = index;
    shown.forEach((o, i) => o.setAttribute("aria-selected", String(i === index)));
  }

  function hideMenu() {
    menu.hidden = true;
    highlighted = -1;
  }

  function choose(option) {
    textarea.value = option.dataset.text;
    hideMenu();
    textarea.focus();
  }

  menu.addEventListener("mousedown", (event) => {
    const option = event.target.closest("li[data-shortcut]");
    if (option) {
      event.preventDefault();
      choose(option);
    }
  });

  textarea.addEventListener("keydown", (event) => {
    if (!menu.hidden) {
      const shown = visibleOptions();
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        highlight((highlighted + step + shown.length) % shown.length);
        return;
      }
      if ((event.key === "Enter" || event.key === "Tab") && highlighted >= 0) {
        event.preventDefault();
        choose(shown[highlighted]);
        return;
      }
      if (event.key === "Escape") {
        hideMenu();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
}

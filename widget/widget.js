/* ChatIQ chat widget: one IIFE, no build step, no globals besides window.chtq.
   Visitor side of the wire contract in docs/protocol.md; embedding in docs/widget.md. */
(function () {
  'use strict';
  // Captured before the page can swap them (a hostile or buggy shim installed later).
  var WS = window.WebSocket, W = window, doc = document, JSONs = JSON.stringify;
  var MAX_TEXT = 10000, MAX_FILE = 10 * 1048576, TYPING_EVERY = 1500, RETRY_CAP = 30000;
  var EMOJI = '😀 😂 😊 😍 😉 😎 🤔 😮 😢 😡 👍 👎 👏 🙌 🙏 👋 🤝 💪 🎉 🔥 ❤️ 💯 ✅ ⭐ 💡 📎 ☕ 🚀'.split(' ');
  var REACT = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
  var NS = 'http://www.w3.org/2000/svg';
  // Icons as SVG path data (stroked unless noted), so no icon font or emoji font is needed.
  var I = {
    chat: 'M6 3h12a3 3 0 0 1 3 3v8a3 3 0 0 1-3 3h-8l-5 4v-4.2A3 3 0 0 1 3 14V6a3 3 0 0 1 3-3z',  // filled
    send: 'M3 20.5l18-8.5L3 3.5V10l12 2-12 2z',  // filled
    x: 'M6 6l12 12M18 6L6 18',
    file: 'M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5',
    clip: 'M20 11.5l-8 8a5 5 0 0 1-7-7l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7L9.7 17.2a1.7 1.7 0 0 1-2.4-2.4L15 7',
    smile: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM8 14s1.5 2 4 2 4-2 4-2M9 9.5h.01M15 9.5h.01',
    bell: 'M6 9a6 6 0 0 1 12 0c0 6 2.5 8 2.5 8h-17S6 15 6 9M10 20.5a2.2 2.2 0 0 0 4 0',
    mute: 'M6 9a6 6 0 0 1 12 0c0 6 2.5 8 2.5 8h-17S6 15 6 9M10 20.5a2.2 2.2 0 0 0 4 0M3 3l18 18'
  };

  var script = doc.currentScript || [].filter.call(doc.getElementsByTagName('script'), function (s) {
    return /\/widget\.js([?#]|$)/.test(s.src);
  }).pop();
  if (!script || !WS) return;
  var cfg = W.chtq && typeof W.chtq === 'object' ? W.chtq : (W.chtq = {});
  if (cfg._loaded) return;  // the snippet pasted twice must not make two widgets
  cfg._loaded = 1;
  var ds = script.dataset || {};
  var siteKey = String(cfg.siteKey || ds.siteId || ds.siteKey || '');
  if (!siteKey) return console.warn('ChatIQ: no siteKey (set window.chtq = {siteKey: "…"})');
  var base = script.src.replace(/\/widget\.js([?#].*)?$/, '');
  var wsUrl = base.replace(/^http/, 'ws') + '/ws/widget';
  var lang = String(cfg.language || ds.language || doc.documentElement.lang || navigator.language || '')
    .toLowerCase().indexOf('uk') === 0 ? 'uk' : 'en';

  // Every visible string, [en, uk]; "{}" is replaced by t()'s argument.
  var S = {
    open: ['Open chat', 'Відкрити чат'],
    close: ['Close chat', 'Закрити чат'],
    chat: ['Chat', 'Чат'],
    support: ['Support', 'Підтримка'],
    online: ['Online', 'Онлайн'],
    away: ['We will reply as soon as we can', 'Відповімо якнайшвидше'],
    closedAt: ['Offline, back {}', 'Не в мережі, повернемося {}'],
    closed: ['Offline, leave us a message', 'Не в мережі, залиште повідомлення'],
    connecting: ['Connecting…', 'З’єднання…'],
    reconnecting: ['Connection lost. Reconnecting…', 'Зв’язок втрачено. Перепідключення…'],
    relink: ['Reconnecting…', 'Перепідключення…'],
    offline: ['You are offline. Messages will be sent when the connection is back.',
      'Ви не в мережі. Повідомлення надішлемо, щойно з’явиться зв’язок.'],
    typing: ['{} is typing…', '{} друкує…'],
    messages: ['Messages', 'Повідомлення'],
    placeholder: ['Write a message…', 'Напишіть повідомлення…'],
    send: ['Send', 'Надіслати'],
    pending: ['Sending', 'Надсилається'],
    sent: ['Sent', 'Надіслано'],
    read: ['Read', 'Прочитано'],
    failed: ['Not sent', 'Не надіслано'],
    tooLong: ['Message is too long: at most 10000 characters.', 'Повідомлення задовге: не більше 10000 символів.'],
    tooBig: ['The file is larger than 10 MB.', 'Файл більший за 10 МБ.'],
    upFail: ['Could not upload the file.', 'Не вдалося завантажити файл.'],
    attach: ['Attach a file', 'Прикріпити файл'],
    emoji: ['Emoji', 'Емодзі'],
    react: ['React', 'Реакція'],
    sound: ['Sound', 'Звук'],
    ended: ['The chat was closed. Write again any time.', 'Розмову завершено. Пишіть нам будь-коли.'],
    newMsg: ['New message', 'Нове повідомлення'],
    unread: ['{} unread', 'Непрочитаних: {}'],
    file: ['File', 'Файл'],
    units: ['B KB MB', 'Б КБ МБ'],
    brand: ['Powered by ChatIQ', 'Працює на ChatIQ'],
    signIn: ['Sign in to chat with us.', 'Увійдіть, щоб написати нам.'],
    mailAway: ['Leave your email and we will answer there too.', 'Залиште email, і ми відповімо й туди.'],
    mailContact: ['Leave your email as a contact: our team can write to you later.',
      'Залиште email як контакт: наша команда зможе написати вам пізніше.'],
    mailKept: ['Thanks! Your email is saved as your contact; this chat sends no emails.',
      'Дякуємо! Ваш email збережено як контакт; цей чат не надсилає листів.'],
    mailAsk: ['Email me this conversation', 'Надіслати мені цю розмову'],
    mailPh: ['Your email', 'Ваш email'],
    mailOk: ['Thanks! We have your email.', 'Дякуємо! Ваш email у нас.'],
    mailSent: ['The conversation is on its way to your inbox.', 'Розмову надіслано вам на пошту.']
  };
  function t(k, v) { return S[k][lang === 'uk' ? 1 : 0].replace('{}', v); }

  // localStorage may be blocked (private mode, sandboxed iframes): fall back to memory.
  var K = 'chatiq:' + siteKey + ':', mem = {};
  function get(k) { try { return W.localStorage.getItem(K + k); } catch (e) { return mem[k] || null; } }
  function set(k, v) { try { W.localStorage.setItem(K + k, v); } catch (e) { mem[k] = v; } }

  // ---- state --------------------------------------------------------------------------
  var sock = null, joined = false, dead = false, everJoined = false, booted = false, shown = false;
  var attempt = 0, retryT = 0, refs = {}, refN = 0, inflight = null, inflightT = 0, warned = {};
  var token = get('token'), tkey = 'token', me = null, chatId = null, features = {}, srv = {};
  var noUser = 0, refused = 0, pinned = true;
  var mailMode = '', mailGiven = get('mail');  // (ext) the email ask: '', 'away' or 'transcript'
  var business = { open: true }, online = 0, agent = null, typingName = '', typingT = 0;
  var maxSeq = 0, adminRead = 0, readSent = 0, seen = +get('seen') || 0;
  var recs = [], byKey = {};  // rendered messages; byKey: 's'+seq / 'c'+clientId / 'i'+id -> record
  var outbox = stored(), isOpen = false, sound = get('sound') !== '0', lastPage = location.href;
  var audio = null, blinkT = 0, titleWas = '', noteT = 0, tyLast = 0, tyTimer = 0, tyIdle = 0, tyOn = false;

  // ---- DOM helpers (text always via text nodes; no innerHTML anywhere) -----------------
  function h(tag, attrs, kids) {
    var el = doc.createElement(tag), k;
    for (k in attrs) if (attrs[k] != null) {
      if (k === 'text') el.textContent = attrs[k]; else el.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c != null) el.appendChild(typeof c === 'string' ? doc.createTextNode(c) : c); });
    return el;
  }
  function on(el, ev, fn) { el.addEventListener(ev, fn); return el; }
  function btn(cls, label, kid, id, fn) {
    return on(h('button', { type: 'button', 'class': cls, 'aria-label': label, title: label, 'data-chatiq': id }, [kid]), 'click', fn);
  }
  function icon(d, cls) {
    var s = doc.createElementNS(NS, 'svg'), p = doc.createElementNS(NS, 'path');
    s.setAttribute('viewBox', '0 0 24 24'); s.setAttribute('aria-hidden', 'true'); s.setAttribute('class', cls || '');
    p.setAttribute('d', d); s.appendChild(p);
    return s;
  }
  function safeUrl(u) {  // only http(s), resolved against the server, never javascript:/data:
    try { var x = new URL(String(u), base + '/'); return /^https?:$/.test(x.protocol) ? x.href : null; } catch (e) { return null; }
  }
  function fileUrl(u) {  // <img> and links cannot send headers: the server reads ?t=<token>&k=<siteKey>
    var x = safeUrl(u);
    if (!x || x.indexOf(base + '/') !== 0 || !token) return x;
    x = new URL(x); x.searchParams.set('t', token); x.searchParams.set('k', siteKey);
    return x.href;
  }
  function linkify(el, s) {
    var re = /\bhttps?:\/\/[^\s<>"']+/gi, i = 0, x, u;
    while ((x = re.exec(s))) {
      u = x[0].replace(/[.,;:!?)\]]+$/, '');
      el.appendChild(doc.createTextNode(s.slice(i, x.index)));
      el.appendChild(h('a', { href: u, target: '_blank', rel: 'noopener noreferrer' }, [u]));
      re.lastIndex = i = x.index + u.length;
    }
    el.appendChild(doc.createTextNode(s.slice(i)));
  }
  function when(iso, long) {
    var d = new Date(iso), o = { hour: '2-digit', minute: '2-digit' };
    if (isNaN(d)) return '';
    if (long || d.toDateString() !== new Date().toDateString()) { o.day = 'numeric'; o.month = 'short'; }
    if (long) o.weekday = 'short';
    return d.toLocaleString(lang === 'uk' ? 'uk-UA' : [], o);  // the widget's language, not the browser's
  }
  function size(n) {
    var u = t('units').split(' ');
    n = +n || 0;
    return n < 1024 ? n + ' ' + u[0] : n < 1048576 ? (n / 1024).toFixed(0) + ' ' + u[1] : (n / 1048576).toFixed(1) + ' ' + u[2];
  }
  function uuid() {
    var c = W.crypto;
    if (c.randomUUID) return c.randomUUID();  // only in secure contexts
    var b = c.getRandomValues(new Uint8Array(16)), s;
    b[6] = b[6] & 15 | 64; b[8] = b[8] & 63 | 128;
    s = [].map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return [s.slice(0, 8), s.slice(8, 12), s.slice(12, 16), s.slice(16, 20), s.slice(20)].join('-');
  }

  // ---- UI ------------------------------------------------------------------------------
  var STYLE = ':host{all:initial!important;display:block!important;visibility:visible!important;opacity:1!important}' +
    '*{box-sizing:border-box;margin:0}' +
    '.w{--c:#4f46e5;--c2:#eef2ff;--ink:#fff;--ink2:#111827;--bg:#fff;--fg:#111827;--mu:#6b7280;--bd:#e5e7eb;--th:#f1f2f6;' +
    'font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);text-align:left}' +
    '@media (prefers-color-scheme:dark){.w{--bg:#111827;--fg:#f3f4f6;--mu:#9ca3af;--bd:#374151;--th:#1f2937}}' +
    'button{font:inherit;color:inherit;background:none;border:0;cursor:pointer;padding:0}' +
    ':focus-visible{outline:2px solid var(--c);outline-offset:2px}[hidden]{display:none!important}' +
    '.l,.p{position:fixed;right:20px;z-index:2147483647}.left .l,.left .p{right:auto;left:20px}' +
    '.l{bottom:20px;width:60px;height:60px;border-radius:50%;background:var(--c);color:var(--ink);' +
    'box-shadow:0 6px 20px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;transition:transform .15s}' +
    '.l:hover{transform:scale(1.06)}.l svg{width:28px;height:28px;fill:currentColor}' +
    '.compact .l{width:52px;height:52px}.large .l{width:68px;height:68px}' +
    '.i{width:20px;height:20px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round;vertical-align:middle}' +
    '.l .x{display:none;fill:none;stroke-width:2.4}' +
    '.open .l .x{display:block}.open .l .o{display:none}' +
    '.bd{position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;' +
    'background:#dc2626;color:#fff;font-size:12px;font-weight:700;line-height:20px;text-align:center}' +
    '.p{bottom:92px;width:370px;height:560px;max-height:calc(100vh - 112px);background:var(--bg);border:1px solid var(--bd);' +
    'border-radius:16px;box-shadow:0 12px 40px rgba(0,0,0,.3);display:flex;flex-direction:column;overflow:hidden}' +
    '.compact .p{width:320px;height:440px}.large .p{width:420px;height:680px}' +
    'header{display:flex;align-items:center;gap:10px;padding:12px 14px;background:var(--c);color:var(--ink)}' +
    '.av{width:38px;height:38px;border-radius:50%;flex:none;background:rgba(255,255,255,.25);display:flex;' +
    'align-items:center;justify-content:center;font-weight:700;overflow:hidden}.av{position:relative}.av img{position:absolute;inset:0;width:100%;height:100%;object-fit:cover}' +
    '.hd{flex:1;min-width:0}.nm{font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}' +
    '.st{font-size:12px;opacity:.92;display:flex;align-items:center;gap:5px}' +
    '.st:before{content:"";flex:none;width:8px;height:8px;border-radius:50%;background:#9ca3af}.st[data-state=online]:before{background:#22c55e}' +
    '.hb{width:32px;height:32px;border-radius:8px;flex:none}.hb:hover{background:rgba(255,255,255,.18)}' +
    '.cn{padding:6px 12px;font-size:12px;background:#fef3c7;color:#92400e;text-align:center}' +
    '.log{flex:1;overflow-y:auto;padding:14px 12px;display:flex;flex-direction:column;gap:8px;overscroll-behavior:contain}' +
    '.m{max-width:82%;align-self:flex-start;display:flex;flex-direction:column;align-items:flex-start}' +
    '.m.me{align-self:flex-end;align-items:flex-end}' +
    '.b{padding:8px 12px;border-radius:14px 14px 14px 4px;background:var(--th);white-space:pre-wrap;overflow-wrap:anywhere}' +
    '.me .b{background:var(--c);color:var(--ink);border-radius:14px 14px 4px 14px}.b a{color:inherit}' +
    '.b img{display:block;max-width:220px;max-height:220px;border-radius:8px}' +
    '.sys{align-self:center;max-width:90%;font-size:12px;color:var(--mu);text-align:center}.sys .b{background:none;padding:2px}' +
    '.f{display:flex;gap:6px;align-items:center;font-size:11px;color:var(--mu);padding:2px 4px 0}' +
    '.failed .k{color:#dc2626;font-weight:700}.rb{opacity:0}.rb .i{width:15px;height:15px}.m:hover .rb,.m:focus-within .rb{opacity:1}' +
    '.rx{display:flex;flex-wrap:wrap;gap:4px;margin-top:2px}' +
    '.ch{font-size:12px;padding:1px 7px;border:1px solid var(--bd);border-radius:10px;background:var(--bg)}.ch.on{border-color:var(--c);background:var(--c2);color:var(--ink2)}' +
    '.rp{display:flex;gap:2px;padding:4px;margin-top:2px;border:1px solid var(--bd);border-radius:10px;background:var(--bg);box-shadow:0 2px 8px rgba(0,0,0,.15)}' +
    '.rp button,.em button{font-size:20px;width:34px;height:34px;border-radius:6px}.rp button:hover,.em button:hover{background:var(--th)}' +
    '.ty{padding:0 14px 6px;font-size:12px;color:var(--mu);font-style:italic}' +
    '.q{display:flex;flex-wrap:wrap;gap:6px;padding:0 12px 8px}' +
    '.q button{border:1px solid var(--c);color:var(--ink2);background:var(--c2);border-radius:16px;padding:5px 12px;font-size:13px}' +
    '.ml{padding:8px 12px 0;border-top:1px solid var(--bd);font-size:13px}.ml form{padding:6px 0 8px;border:0}' +
    '.ml input{flex:1;min-width:0;border:1px solid var(--bd);border-radius:8px;padding:6px 8px;font:inherit;background:var(--bg);color:var(--fg)}' +
    '.ml button{padding:6px 12px;border-radius:8px;background:var(--c);color:var(--ink)}' +
    '.nt{margin:0 12px 8px;padding:6px 10px;border-radius:8px;background:#fee2e2;color:#991b1b;font-size:12px}' +
    'progress{display:block;width:100%;height:4px}' +
    '.em{display:grid;grid-template-columns:repeat(7,1fr);padding:6px;border-top:1px solid var(--bd);max-height:160px;overflow-y:auto}' +
    'form{display:flex;align-items:flex-end;gap:4px;padding:8px;border-top:1px solid var(--bd)}' +
    'textarea{flex:1;resize:none;border:0;border-radius:8px;background:transparent;color:var(--fg);font:inherit;padding:8px 6px;height:38px;max-height:120px}' +
    '.ib{width:36px;height:36px;border-radius:8px;font-size:18px;color:var(--mu);flex:none}.ib:hover{background:var(--th)}' +
    '.sd{color:var(--c)}.sd svg{width:22px;height:22px;fill:currentColor}' +
    '.br{text-align:center;font-size:11px;color:var(--mu);padding:0 0 6px}.dr{outline:2px dashed var(--c);outline-offset:-6px}' +
    '@media (max-width:480px){.w .p{top:0;left:0;right:0;bottom:0;width:100%;height:100%;max-height:none;border-radius:0;border:0}.open .l{display:none}}' +
    '@media (prefers-reduced-motion:reduce){*{transition:none!important}}';

  var host = h('chatiq-widget'), root = host.attachShadow({ mode: 'open' });
  host.style.setProperty('display', 'block', 'important');
  var badge = h('span', { 'class': 'bd', 'data-chatiq': 'badge', hidden: '' });
  var launcher = on(h('button', { type: 'button', 'class': 'l', 'data-chatiq': 'launcher', 'aria-expanded': 'false', 'aria-label': t('open') },
    [icon(I.chat, 'o'), icon(I.x, 'i x'), badge]), 'click', function () { toggle(!isOpen); });
  var avatar = h('div', { 'class': 'av', 'aria-hidden': 'true' });
  var agentEl = h('div', { 'class': 'nm', 'data-chatiq': 'agent' });
  var statusEl = h('div', { 'class': 'st', 'data-chatiq': 'status' });
  var soundBtn = btn('hb', t('sound'), null, 'sound', function () {
    sound = !sound; set('sound', sound ? '1' : '0'); paintSound(); if (sound) beep();
  });
  var connEl = h('div', { 'class': 'cn', role: 'status', 'data-chatiq': 'conn', hidden: '' });
  var greetEl = h('div', { 'class': 'm', 'data-seq': '0', 'data-chatiq': 'greeting', hidden: '' });
  var log = h('div', { 'class': 'log', role: 'log', 'aria-live': 'polite', 'aria-label': t('messages'), tabindex: '0', 'data-chatiq': 'log' }, [greetEl]);
  var typingEl = h('div', { 'class': 'ty', 'aria-live': 'polite', 'data-chatiq': 'typing', hidden: '' });
  var quick = h('div', { 'class': 'q', 'data-chatiq': 'quick' });
  var mailText = h('span'), mailIn = h('input', { type: 'email', required: '', maxlength: '254', autocomplete: 'email', placeholder: t('mailPh'), 'aria-label': t('mailPh') });
  var mailEl = h('div', { 'class': 'ml', 'data-chatiq': 'email', hidden: '' }, [mailText, on(h('form', null, [mailIn,
    h('button', { type: 'submit', text: t('send') })]), 'submit', function (e) { e.preventDefault(); giveEmail(); })]);
  var noteEl = h('div', { 'class': 'nt', role: 'alert', 'data-chatiq': 'notice', hidden: '' });
  var bar = h('progress', { max: '1', value: '0', 'data-chatiq': 'progress', hidden: '' });
  var emojis = h('div', { 'class': 'em', 'data-chatiq': 'emojis', hidden: '' }, EMOJI.map(function (e) {
    return btn('', e, e, null, function () { insertText(e); });
  }));
  var input = h('textarea', { rows: '1', placeholder: t('placeholder'), 'aria-label': t('placeholder'), 'data-chatiq': 'input' });
  var fileIn = on(h('input', { type: 'file', hidden: '', 'aria-hidden': 'true', tabindex: '-1' }), 'change', function () {
    upload(fileIn.files[0]); fileIn.value = '';
  });
  var attachBtn = btn('ib', t('attach'), icon(I.clip, 'i'), 'upload', function () { fileIn.click(); });
  var emojiBtn = btn('ib', t('emoji'), icon(I.smile, 'i'), 'emoji', function () {
    emojis.hidden = !emojis.hidden; emojiBtn.setAttribute('aria-expanded', !emojis.hidden);
  });
  var sendBtn = h('button', { type: 'submit', 'class': 'ib sd', 'aria-label': t('send'), title: t('send'), 'data-chatiq': 'send' },
    [icon(I.send)]);
  var form = on(h('form', { 'data-chatiq': 'composer' }, [attachBtn, fileIn, input, emojiBtn, sendBtn]), 'submit', function (e) {
    e.preventDefault(); submit(input.value, true);
  });
  var brandEl = h('div', { 'class': 'br', text: t('brand') });
  var panel = h('div', { 'class': 'p', role: 'dialog', 'aria-label': t('chat'), 'data-chatiq': 'panel', hidden: '' }, [
    h('header', null, [avatar, h('div', { 'class': 'hd' }, [agentEl, statusEl]), soundBtn,
      btn('hb', t('close'), icon(I.x, 'i'), 'close', function () { toggle(false); })]),
    connEl, log, typingEl, quick, mailEl, noteEl, bar, emojis, form, brandEl]);
  var wrap = h('div', { 'class': 'w' }, [panel, launcher]);
  try {  // a constructed sheet is not subject to the page's CSP style-src; <style> is the fallback
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    root.adoptedStyleSheets = [sheet];
  } catch (e) { root.appendChild(h('style', { text: STYLE })); }
  root.appendChild(wrap);

  emojiBtn.setAttribute('aria-expanded', false);
  on(wrap, 'keydown', function (e) {
    if (e.key !== 'Escape' || !isOpen) return;
    if (!emojis.hidden) { emojis.hidden = true; emojiBtn.focus(); } else toggle(false);
  });
  on(input, 'keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(input.value, true); }
  });
  on(input, 'input', onInput);
  on(input, 'paste', function (e) {
    var s = e.clipboardData ? e.clipboardData.getData('text') : '';
    if (input.value.length - (input.selectionEnd - input.selectionStart) + s.length > MAX_TEXT) {
      e.preventDefault(); note(t('tooLong'));
    }
  });
  on(panel, 'dragover', function (e) { if (features.uploads) { e.preventDefault(); panel.classList.add('dr'); } });
  on(panel, 'dragleave', function () { panel.classList.remove('dr'); });
  on(panel, 'drop', function (e) {
    panel.classList.remove('dr');
    if (features.uploads && e.dataTransfer.files.length) { e.preventDefault(); upload(e.dataTransfer.files[0]); }
  });

  function show() {  // the widget appears only once the server accepted the site key (or is unreachable)
    if (shown || dead) return;
    shown = true;
    (doc.body || doc.documentElement).appendChild(host);
  }
  function toggle(open) {
    isOpen = open;
    wrap.classList.toggle('open', open);
    panel.hidden = !open;
    launcher.setAttribute('aria-expanded', open);
    launcher.setAttribute('aria-label', t(open ? 'close' : 'open'));
    if (open) { input.focus(); scrollEnd(); markRead(); unlockAudio(); } else { emojis.hidden = true; launcher.focus(); }
  }
  function note(s) {
    noteEl.textContent = s; noteEl.hidden = false;
    clearTimeout(noteT); noteT = setTimeout(function () { noteEl.hidden = true; }, 6000);
  }
  function scrollEnd() { log.scrollTop = log.scrollHeight; }
  // An image grows its message when it decodes, after the log was scrolled to the end:
  // a reader who was at the end stays there (scrolling is what moves them off it).
  function keepPinned() { if (pinned) scrollEnd(); }
  on(log, 'scroll', function () { pinned = log.scrollHeight - log.scrollTop - log.clientHeight < 60; });
  function grow() { input.style.height = ''; input.style.height = Math.min(input.scrollHeight, 120) + 'px'; }
  function insertText(s) {
    var a = input.selectionStart, b = input.selectionEnd, v = input.value;
    input.value = v.slice(0, a) + s + v.slice(b);
    input.selectionStart = input.selectionEnd = a + s.length;
    input.focus(); onInput();
  }
  function paintSound() {
    soundBtn.textContent = '';
    soundBtn.appendChild(icon(sound ? I.bell : I.mute, 'i'));
    soundBtn.setAttribute('aria-pressed', sound);
  }

  // ---- settings, presence, header ------------------------------------------------------
  function color(v) { return typeof v === 'string' && W.CSS && W.CSS.supports('color', v) ? v : null; }
  function ink(c) {  // readable text on the primary color (hex only; anything else gets white)
    var m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c), x, n;
    if (!m) return '#fff';
    x = m[1].length === 3 ? m[1].replace(/./g, '$&$&') : m[1]; n = parseInt(x, 16);
    return (0.299 * (n >> 16) + 0.587 * (n >> 8 & 255) + 0.114 * (n & 255)) > 170 ? '#111827' : '#fff';
  }
  function pick(k) { return cfg[k] != null && cfg[k] !== '' ? cfg[k] : srv[k]; }  // the page's own config wins
  function applySettings() {
    var c = color(pick('color')) || '#4f46e5', c2 = color(srv.secondaryColor || cfg.secondaryColor) || '#eef2ff';
    // The greeting in the visitor's language; `greeting` holds the other one when it is missing.
    var gs = srv.greetings && typeof srv.greetings === 'object' ? srv.greetings : {};
    var pos = pick('position') === 'left' ? 'left' : 'right', sz = pick('size'), g = gs[lang] || srv.greeting;
    wrap.className = 'w ' + pos + ' ' + (/^(compact|large)$/.test(sz) ? sz : 'standard') + (isOpen ? ' open' : '');
    wrap.style.setProperty('--c', c); wrap.style.setProperty('--c2', c2); wrap.style.setProperty('--ink', ink(c)); wrap.style.setProperty('--ink2', ink(c2));
    greetEl.textContent = '';
    greetEl.hidden = !g;
    if (g) greetEl.appendChild(body({ text: String(g) }));
    brandEl.hidden = srv.showBranding === false;
    paintQuick(); paintAgent();
  }
  function paintQuick() {
    var mine = recs.some(function (r) { return r.mine; }), q = Array.isArray(srv.quickReplies) ? srv.quickReplies : [];
    quick.textContent = '';
    quick.hidden = mine || !q.length;
    q.slice(0, 6).forEach(function (s) {
      quick.appendChild(on(h('button', { type: 'button', 'data-chatiq': 'quick-reply' }, [String(s)]), 'click', function () { submit(String(s)); }));
    });
  }
  function paintAgent() {
    var name = String((agent && agent.name) || srv.agentName || t('support'));
    var raw = (agent && agent.avatarUrl) || srv.agentAvatarUrl, pic = raw && safeUrl(raw);
    agentEl.textContent = name;
    avatar.textContent = '';
    avatar.appendChild(doc.createTextNode(name.charAt(0).toUpperCase()));
    if (pic) avatar.appendChild(on(h('img', { src: pic, alt: '' }), 'error', function () { this.remove(); }));
    // Without a connection nobody can answer: the header must not say "Online" under the
    // banner that says the connection is lost.
    var st = !joined ? 'link' : !business.open ? 'closed' : online > 0 ? 'online' : 'away';
    statusEl.setAttribute('data-state', st);
    statusEl.textContent = st === 'closed' && business.nextOpenAt ? t('closedAt', when(business.nextOpenAt, 1))
      : st === 'link' ? t(everJoined ? 'relink' : 'connecting') : t(st);
    connEl.hidden = joined;
    connEl.textContent = refused ? t('signIn') : navigator.onLine === false ? t('offline') : t(everJoined ? 'reconnecting' : 'connecting');
    connEl.setAttribute('data-state', joined ? 'ok' : 'offline');
    attachBtn.hidden = features.uploads !== true;
    if (mailMode !== 'transcript') askEmail(joined && st !== 'online' && !mailGiven ? 'away' : '');
    paintSound();
  }

  // ---- (ext) the visitor's email: offline capture, and the transcript after a closed chat --
  function askEmail(mode) {
    mailMode = mode; mailEl.hidden = !mode;
    // Without email on the server the address is only a contact detail, and we say so.
    if (mode) mailText.textContent = t(mode === 'transcript' ? 'mailAsk' : features.email ? 'mailAway' : 'mailContact');
  }
  function giveEmail() {
    var v = mailIn.value.trim(), tr = mailMode === 'transcript';
    if (v) send('visitor:email', { email: v, transcript: tr }, function (err, d) {
      if (err) return note(err.message || err.code);
      set('mail', mailGiven = '1'); askEmail('');
      sysNote(t(d.transcript ? 'mailSent' : features.email ? 'mailOk' : 'mailKept'));
    });
  }

  // ---- messages ------------------------------------------------------------------------
  function body(m) {
    var b = h('div', { 'class': 'b' }), a = m.attachment, url, th;
    if (a && typeof a === 'object') {
      url = fileUrl(a.url); th = a.thumbUrl && fileUrl(a.thumbUrl);
      b.appendChild(th && /^image\//.test(a.mime || '')
        ? h('a', { href: url || th, target: '_blank', rel: 'noopener noreferrer', 'data-chatiq': 'attachment' },
          [on(h('img', { src: th, alt: String(a.name || t('file')) }), 'load', keepPinned)])
        : h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', download: '', 'data-chatiq': 'attachment' },
          [icon(I.file, 'i'), ' ' + String(a.name || t('file')) + ' · ' + size(a.size)]));
      if (m.text) b.appendChild(h('br'));
    }
    if (m.text) linkify(b, String(m.text));
    return b;
  }
  function place(el, seq) {  // keep the log in seq order; unsent messages stay at the end
    var kids = log.children, i = kids.length - 1, ref = null;
    for (; i >= 0; i--) {
      if (kids[i] === el) continue;
      if (!kids[i].hasAttribute('data-seq') || +kids[i].getAttribute('data-seq') > seq) ref = kids[i]; else break;
    }
    log.insertBefore(el, ref);
  }
  function upsert(m, live) {
    if (!m || typeof m !== 'object') return;
    if (m.chatId) chatId = m.chatId;
    var kind = m.author && m.author.kind, r = (m.seq && byKey['s' + m.seq]) || (m.clientId && byKey['c' + m.clientId]);
    var atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    if (!r) {
      r = { mine: kind === 'visitor', them: kind === 'operator' || kind === 'bot' };
      r.mark = h('span', { 'class': 'k', role: 'img', 'data-chatiq': 'mark' });
      r.rx = h('div', { 'class': 'rx', 'data-chatiq': 'reactions' });
      r.rb = btn('rb', t('react'), icon(I.smile, 'i'), 'react', function () { pickReaction(r); });
      r.el = h('div', { 'class': 'm ' + (r.mine ? 'me' : kind === 'system' ? 'sys' : 'them'), 'data-chatiq': 'message', 'data-kind': kind }, [
        body(m), h('div', { 'class': 'f' }, [
          r.them && m.author.name ? String(m.author.name) + ' · ' : null,
          h('time', { datetime: m.createdAt, text: when(m.createdAt) }), r.mine ? r.mark : null, r.rb]), r.rx]);
      recs.push(r);
      if (!m.seq) log.appendChild(r.el);
      if (r.them && live) notify(m);
      if (r.mine) paintQuick();
    }
    if (r.m && !r.m.seq && m.seq || !r.m && m.seq) place(r.el, m.seq);
    r.m = m;
    if (m.seq) { byKey['s' + m.seq] = r; maxSeq = Math.max(maxSeq, m.seq); }
    if (m.clientId) byKey['c' + m.clientId] = r;
    if (m.id) byKey['i' + m.id] = r;
    if (r.mine && m.seq && m.clientId) done(m.clientId);  // stored already (e.g. ack lost before a reload)
    paint(r);
    if (atEnd || r.mine) scrollEnd();
    if (live) markRead();
  }
  function paint(r) {
    var m = r.m, rx = m.reactions && typeof m.reactions === 'object' ? m.reactions : {};
    if (m.seq) r.el.setAttribute('data-seq', m.seq);
    if (m.id) r.el.setAttribute('data-id', m.id);
    if (r.mine) {
      var st = r.failed ? 'failed' : !m.seq ? 'pending' : m.readAt || m.seq <= adminRead ? 'read' : 'sent';
      r.el.classList.toggle('failed', st === 'failed');
      r.el.setAttribute('data-status', st);
      r.mark.textContent = { pending: '◷', sent: '✓', read: '✓✓', failed: '!' }[st];
      r.mark.setAttribute('aria-label', t(st)); r.mark.title = t(st);
    }
    r.rb.hidden = !(features.reactions && m.id);
    r.rx.textContent = '';
    Object.keys(rx).forEach(function (e) {
      var who = Array.isArray(rx[e]) ? rx[e] : [], mine = who.indexOf(me) >= 0;
      if (who.length) r.rx.appendChild(btn('ch' + (mine ? ' on' : ''), e + ' ' + who.length, e + ' ' + who.length, 'reaction', function () {
        react(r, e);
      })).setAttribute('aria-pressed', mine);
    });
  }
  function pickReaction(r) {
    var open = r.el.querySelector('.rp');
    if (open) return open.remove();
    r.el.appendChild(h('div', { 'class': 'rp', 'data-chatiq': 'reaction-picker' }, REACT.map(function (e) {
      return btn('', e, e, null, function () { r.el.querySelector('.rp').remove(); react(r, e); });
    })));
  }
  function react(r, e) {
    send('message:react', { messageId: r.m.id, emoji: e }, function (err, d) { if (!err) upsert(d.message); });
  }
  function sysNote(s) {
    log.appendChild(h('div', { 'class': 'm sys', 'data-seq': maxSeq + 0.5, 'data-chatiq': 'system' }, [h('div', { 'class': 'b', text: s })]));
    scrollEnd();
  }
  function showTyping(on) {
    clearTimeout(typingT);
    typingEl.hidden = !on;
    typingEl.textContent = t('typing', typingName || agentEl.textContent);
    if (on) typingT = setTimeout(showTyping, 8000, false);  // a lost "typing:false" must not stick
  }

  // ---- attention: unread badge, sound, title blink --------------------------------------
  function unreadCount() { return recs.filter(function (r) { return r.them && r.m.seq > seen; }).length; }
  function paintBadge() {
    var n = isOpen && !doc.hidden ? 0 : unreadCount();
    badge.hidden = !n; badge.textContent = n > 9 ? '9+' : n;
    launcher.setAttribute('aria-label', t(isOpen ? 'close' : 'open') + (n ? ' (' + t('unread', n) + ')' : ''));
  }
  function markRead() {
    var s = 0;
    recs.forEach(function (r) { if (r.them && r.m.seq > s) s = r.m.seq; });
    if (joined && isOpen && !doc.hidden && s > readSent) { readSent = s; send('visitor:read', { seq: s }); }
    if (isOpen && !doc.hidden && maxSeq > seen) set('seen', seen = maxSeq);
    paintBadge();
  }
  function notify() {
    if (sound) beep();
    if (doc.hidden && !blinkT) {
      titleWas = doc.title;
      blinkT = setInterval(function () { doc.title = doc.title === titleWas ? '💬 ' + t('newMsg') : titleWas; }, 1000);
    }
  }
  function unlockAudio() {  // browsers only allow audio after a user gesture
    try {
      audio = audio || new (W.AudioContext || W.webkitAudioContext)();
      audio.resume().catch(function () {});
    } catch (e) { audio = null; }
  }
  function beep() {
    if (!audio) return;
    try {
      [880, 1320].forEach(function (f, i) {
        var o = audio.createOscillator(), g = audio.createGain(), s = audio.currentTime + i * 0.12;
        o.frequency.value = f;
        g.gain.setValueAtTime(0.0001, s);
        g.gain.exponentialRampToValueAtTime(0.12, s + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, s + 0.25);
        o.connect(g); g.connect(audio.destination);
        o.start(s); o.stop(s + 0.26);
      });
    } catch (e) { /* audio is decoration; never break the chat for it */ }
  }
  on(doc, 'visibilitychange', function () {
    if (!doc.hidden && blinkT) { clearInterval(blinkT); blinkT = 0; doc.title = titleWas; }
    markRead();
  });

  // ---- sending: outbox keyed by clientId, persisted, one message in flight -------------
  function stored() {
    try { var v = JSON.parse(get('outbox')); return Array.isArray(v) ? v : []; } catch (e) { return []; }
  }
  function persist(fn) { set('outbox', JSONs(fn(stored()))); }  // read-modify-write: other tabs share the key
  function done(cid) {
    outbox = outbox.filter(function (x) { return x.clientId !== cid; });
    persist(function (l) { return l.filter(function (x) { return x.clientId !== cid; }); });
  }
  function enqueue(it) {
    it.clientId = uuid(); it.at = new Date().toISOString();
    outbox.push(it);
    persist(function (l) { return l.concat([it]); });
    upsert({ clientId: it.clientId, author: { kind: 'visitor' }, text: it.text, attachment: it.attachment, createdAt: it.at });
    flush();
  }
  function submit(text, fromInput) {
    if (!String(text).trim()) return;
    if (text.length > MAX_TEXT) return note(t('tooLong'));
    if (fromInput) { input.value = ''; grow(); emojis.hidden = true; }
    typing(false);
    enqueue({ text: text });
  }
  function flush() {
    if (!joined || inflight || !outbox.length) return;
    var it = inflight = outbox[0], d = { clientId: it.clientId };
    if (it.text) d.text = it.text;
    if (it.attachmentId) d.attachmentId = it.attachmentId;
    // An ack that never comes means a half-open socket: drop it, reconnect, resend the same clientId.
    inflightT = setTimeout(function () { if (inflight === it && sock) sock.close(); }, 15000);
    var sent = send('visitor:message', d, function (err, res) {
      clearTimeout(inflightT); inflight = null;
      if (err && /^(rate_limited|not_joined)$/.test(err.code)) return setTimeout(flush, 2000);
      done(it.clientId);
      var r = byKey['c' + it.clientId];
      if (err && r) { r.failed = true; paint(r); note(t('failed') + ': ' + (err.message || err.code)); }
      if (!err) upsert(res.message);
      flush();
    });
    if (!sent) { clearTimeout(inflightT); inflight = null; }  // socket closing: the next session resends
  }
  function upload(f) {
    if (!f || features.uploads !== true) return;
    if (f.size > MAX_FILE) return note(t('tooBig'));
    var x = new XMLHttpRequest(), fd = new FormData();
    fd.append('siteKey', siteKey); fd.append('visitorToken', token || '');  // the server reads these first
    fd.append('file', f);
    bar.value = 0; bar.hidden = false;
    x.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    x.onloadend = function () {
      var a;
      bar.hidden = true;
      try { a = JSON.parse(x.responseText).attachment; } catch (e) { a = null; }
      if (x.status >= 200 && x.status < 300 && a && a.id) enqueue({ attachmentId: a.id, attachment: a }); else note(t('upFail'));
    };
    x.open('POST', base + '/api/v1/uploads');
    x.send(fd);
  }
  function onInput() {  // visitor typing + draft preview, at most one frame per TYPING_EVERY
    grow();
    if (input.value.length > MAX_TEXT) note(t('tooLong'));
    clearTimeout(tyIdle);
    if (!input.value) return typing(false);
    tyIdle = setTimeout(typing, 5000, false);
    var wait = TYPING_EVERY - (Date.now() - tyLast);
    if (wait <= 0) typing(true);
    else if (!tyTimer) tyTimer = setTimeout(function () { tyTimer = 0; if (input.value) typing(true); }, wait);
  }
  function typing(on) {
    if (!on) { clearTimeout(tyTimer); tyTimer = 0; clearTimeout(tyIdle); if (!tyOn) return; }
    tyOn = on; tyLast = Date.now();
    send('visitor:typing', on ? { typing: true, preview: input.value.slice(0, 1000) } : { typing: false });
  }

  // ---- connection ----------------------------------------------------------------------
  function send(type, data, cb) {
    if (!sock || sock.readyState !== 1 || (!joined && type !== 'visitor:join')) return false;
    var f = { type: type, data: data };
    if (cb) refs[f.ref = 'r' + ++refN] = cb;
    sock.send(JSONs(f));
    return true;
  }
  function connect() {
    clearTimeout(retryT); retryT = 0;
    if (dead || sock) return;
    var ws;
    try { ws = new WS(wsUrl); } catch (e) { return retry(); }
    sock = ws;
    ws.onopen = function () {
      var d = { siteKey: siteKey, pageUrl: here(), pageTitle: title(), referrer: doc.referrer.slice(0, 2048), language: lang };
      try { d.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { /* old browser: no zone */ }
      var u = who();
      // A verified customer keeps a token of their own; the anonymous one lets the server
      // hand them the chat they started before signing in (docs/identity.md).
      tkey = u ? 'u:' + u.id : 'token';
      token = get(tkey) || get('token');
      if (u) d.user = u;
      if (token) d.visitorToken = token;
      if (booted && maxSeq) d.lastSeq = maxSeq;  // resume: only what we missed, in seq order
      lastPage = location.href;
      send('visitor:join', d);
    };
    ws.onmessage = function (e) {
      var f;
      try { f = JSON.parse(e.data); } catch (x) { return; }
      if (f && typeof f.type === 'string') handle(f);
    };
    ws.onclose = function (e) {
      if (sock !== ws) return;
      sock = null; joined = false; inflight = null; refs = {};
      clearTimeout(inflightT);
      if (e.code === 4010 || refused) {  // the site wants a verified customer: say so, never retry
        show(); dead = refused = 1; form.hidden = true; paintAgent();
        return console.warn('ChatIQ: visitor identity refused (close 4010), see window.chtq.user');
      }
      if (e.code === 4003) {  // a refused origin or site key: vanish, say which once, never retry
        dead = true;
        host.remove();
        if (/^origin/.test(e.reason)) {
          return console.warn('ChatIQ: this page\'s origin ' + location.origin + ' is not allowed for site key "' + siteKey +
            '" (close 4003); the chat widget is off. Add ' + location.origin + ' to the site\'s allowed origins in the ChatIQ panel ' +
            '(' + base + '/admin/sites: "Recently refused" → Allow).');
        }
        return console.warn('ChatIQ: the server refused site key "' + siteKey + '" (close 4003: unknown or disabled site); the chat widget is off.');
      }
      if (e.code === 4410) {  // (ext) the site erased this visitor's data: forget it here too
        set(tkey, ''); set('outbox', '[]'); set('seen', seen = 0); token = chatId = null; outbox = [];
        recs.forEach(function (r) { r.el.remove(); });
        recs = []; byKey = {}; maxSeq = adminRead = readSent = 0; booted = false;
      }
      show(); showTyping(false); paintAgent();
      retry(e.code === 4008 ? 6 : 0);
    };
  }
  function who() {  // the page's logged-in customer, signed by the site's server
    var u = cfg.user;
    if (noUser || !u || u.id == null || !u.hash) return null;
    var o = { id: String(u.id), hash: String(u.hash) };
    if (u.name) o.name = String(u.name).slice(0, 200);  // unsigned labels: cut, never refused
    if (u.email) o.email = String(u.email).slice(0, 254);
    return o;
  }
  function retry(min) {  // exponential backoff with jitter, capped; never a tight loop
    attempt = Math.max(attempt + 1, min || 0);
    var d = Math.min(RETRY_CAP, 500 * Math.pow(2, attempt));
    retryT = setTimeout(connect, d / 2 + Math.random() * d / 2);
  }
  on(W, 'online', function () { if (!sock && !dead) connect(); });
  on(W, 'offline', paintAgent);

  function onSession(d) {
    if (d.visitorToken) set(tkey, token = d.visitorToken);
    if (d.identity && d.identity.error) console.warn('ChatIQ: identity not verified:', d.identity.error.message);
    me = d.visitorId;
    if (chatId && d.chatId !== chatId) {  // a different chat (or visitor): start a clean log
      recs.forEach(function (r) { if (r.m.seq) r.el.remove(); });
      recs = recs.filter(function (r) { return !r.m.seq; });
      byKey = {}; maxSeq = adminRead = readSent = 0;
      recs.forEach(function (r) { byKey['c' + r.m.clientId] = r; });
    }
    chatId = d.chatId;
    features = d.features || {};
    srv = d.settings || {};
    business = d.business || { open: true };
    agent = d.agent || agent;
    online = +d.operatorsOnline || 0;
    joined = everJoined = true; attempt = 0;
    (Array.isArray(d.history) ? d.history : []).forEach(function (m) { upsert(m, booted); });
    booted = true;
    recs.forEach(paint);
    applySettings(); show(); flush(); markRead();
  }

  // Every server event the visitor can receive; anything else is reported once.
  function handle(f) {
    var d = f.data && typeof f.data === 'object' ? f.data : {}, cb, r;
    switch (f.type) {
      case 'session': onSession(d); break;
      case 'ack':
      case 'error':
        cb = f.ref && refs[f.ref];
        if (cb) { delete refs[f.ref]; f.type === 'ack' ? cb(null, d) : cb(d); }
        else if (f.type === 'error' && !joined && sock) {  // join refused (e.g. rate_limited): back off
          refused = d.code === 'unauthorized';
          if (/^user/.test(d.field)) noUser = 1;  // a malformed window.chtq.user: join without it
          sock.close();
        }
        else if (f.type === 'error') console.debug('ChatIQ:', d.code, d.message);
        break;
      case 'admin:message':
        showTyping(false);
        if (d.message && d.message.author && d.message.author.name) {
          agent = { name: d.message.author.name, avatarUrl: d.message.author.avatarUrl || (agent && agent.avatarUrl) };
          paintAgent();
        }
      /* falls through */
      case 'welcome:message':
      case 'auto-reply:sent':
      case 'visitor:message':  // our own message sent from another tab
        upsert(d.message, true);
        break;
      case 'admin:typing':
        if (d.name) { typingName = String(d.name); if (!agent) { agent = { name: typingName }; paintAgent(); } }
        showTyping(!!d.typing);
        break;
      case 'admin:read':
        adminRead = Math.max(adminRead, +d.seq || 0);
        recs.forEach(function (r) { if (r.mine) paint(r); });
        break;
      case 'settings:update':
        srv = d.settings || {};
        applySettings();
        break;
      case 'business:status':
        business = d; paintAgent();
        break;
      case 'operators:online':
        online = +d.count || 0; paintAgent();
        break;
      case 'chat:closed':
        showTyping(false); sysNote(t('ended'));
        if (features.email) askEmail('transcript');  // never offer what cannot be sent
        break;
      case 'message:reaction':
        r = byKey['i' + d.messageId];
        if (r && d.reactions) { r.m.reactions = d.reactions; paint(r); }
        break;
      default:
        if (!warned[f.type]) { warned[f.type] = 1; console.warn('ChatIQ: unknown event', f.type); }
    }
  }

  // ---- SPA navigation: tell the operator which page the visitor is on ------------------
  function here() { return location.href.slice(0, 2048); }  // the server's field limits
  function title() { return (blinkT ? titleWas : doc.title).slice(0, 500); }
  function page() {
    if (location.href === lastPage) return;
    lastPage = location.href;
    send('visitor:page', { pageUrl: here(), pageTitle: title() });
  }
  ['pushState', 'replaceState'].forEach(function (k) {
    var orig = history[k];
    history[k] = function () { var r = orig.apply(this, arguments); setTimeout(page, 50); return r; };
  });
  on(W, 'popstate', function () { setTimeout(page, 50); });

  cfg.open = function () { if (shown) toggle(true); };
  cfg.close = function () { if (shown) toggle(false); };
  cfg.identify = function (u) {  // a sign-in (or out) without a page load: join again as u
    cfg.user = u; noUser = 0;
    if (refused) { dead = refused = 0; form.hidden = false; connect(); } else if (sock) sock.close();
  };
  outbox.forEach(function (it) {  // unsent messages from before a reload: show them as pending
    upsert({ clientId: it.clientId, author: { kind: 'visitor' }, text: it.text, attachment: it.attachment, createdAt: it.at });
  });
  applySettings();
  connect();
})();

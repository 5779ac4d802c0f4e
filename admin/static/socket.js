// The operator socket: connects with the panel's session cookie, reconnects with
// backoff, and turns frames with a `ref` into promises.

const REQUEST_TIMEOUT_MS = 10000;
const MAX_BACKOFF_MS = 30000;

export class OperatorSocket {
  constructor({ onReady, onEvent, onState }) {
    this.onReady = onReady;
    this.onEvent = onEvent;
    this.onState = onState;
    this.ws = null;
    this.ready = false;
    this.attempt = 0;
    this.nextRef = 1;
    this.pending = new Map(); // ref → {resolve, reject, timer}
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws/operator`;
  }

  connect() {
    this.onState(this.attempt === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", (event) => this.closed(ws, event));
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      console.warn("chatiq: a frame that is not JSON", text);
      return;
    }
    if ((frame.type === "ack" || frame.type === "error") && this.pending.has(frame.ref)) {
      const waiter = this.pending.get(frame.ref);
      this.pending.delete(frame.ref);
      clearTimeout(waiter.timer);
      if (frame.type === "ack") waiter.resolve(frame.data || {});
      else waiter.reject(Object.assign(new Error(frame.data.message), frame.data));
      return;
    }
    if (frame.type === "operator:ready") {
      this.ready = true;
      this.attempt = 0;
      this.onState("connected");
      this.onReady(frame.data);
      return;
    }
    this.onEvent(frame);
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ready = false;
    for (const [ref, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(Object.assign(new Error("connection lost"), { code: "disconnected" }));
      this.pending.delete(ref);
    }
    if (event.code === 4001) {
      // The session ended (logged out elsewhere): the login page says what to do.
      location.assign("/admin/login?next=" + encodeURIComponent(location.pathname + location.search));
      return;
    }
    this.attempt += 1;
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.attempt, 6));
    const delay = base / 2 + Math.random() * base / 2;
    this.onState("reconnecting");
    setTimeout(() => this.connect(), delay);
  }

  send(type, data) {
    if (this.ready && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type, data }));
    }
  }

  request(type, data) {
    if (!this.ready || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(Object.assign(new Error("not connected"), { code: "disconnected" }));
    }
    const ref = "r" + this.nextRef++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(Object.assign(new Error("no answer"), { code: "timeout" }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ type, data, ref }));
    });
  }
}

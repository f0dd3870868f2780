// One WebSocket per page: reconnects with exponential backoff, resubscribes every topic it holds, and
// queues frames while a topic is not (re)subscribed, so nothing typed offline is dropped on the floor.

import { CAPABILITIES, ClientEvent, ServerEvent, type ClientPayload, type Frame } from "./wire";

/** Every frame of a topic goes to its handlers: the event name and its (unchecked) payload. */
export type Handler = (event: string, payload: any) => void;
export type Conn = "connecting" | "open" | "offline";

/** The part of a browser WebSocket this module uses (tests give a fake one). */
export type WebSocketLike = {
  readonly readyState: number;
  // `any`: a browser WebSocket's handlers take DOM events, a fake's take whatever it passes.
  onopen: ((e: any) => void) | null;
  onmessage: ((m: any) => void) | null;
  onclose: ((e: any) => void) | null;
  send(data: string): void;
  close(code?: number): void;
};
/** How the socket reaches the server, and whether the browser thinks it is online. */
export type Transport = { open: () => WebSocketLike; online: () => boolean };
const OPEN = 1; // WebSocket.OPEN

const browser: Transport = {
  open: () => new WebSocket(`${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/websocket`),
  online: () => navigator.onLine,
};

type Topic = { handlers: Set<Handler>; ready: boolean; subId: string; queue: string[] };

let seq = 0;
export const newId = (prefix = "r") => `${prefix}${Date.now().toString(36)}${(seq++).toString(36)}`;

export class Socket {
  private ws: WebSocketLike | null = null;
  private topics = new Map<string, Topic>();
  private attempt = 0;
  private timer: number | undefined;
  private barriers = new Map<string, () => void>();
  state: Conn = "connecting";
  private stateListeners = new Set<(c: Conn) => void>();

  constructor(private transport: Transport = browser) {}

  onState(f: (c: Conn) => void) {
    this.stateListeners.add(f);
    f(this.state);
    return () => this.stateListeners.delete(f);
  }

  private setState(c: Conn) {
    if (this.state === c) return;
    this.state = c;
    this.stateListeners.forEach((f) => f(c));
  }

  private connect() {
    clearTimeout(this.timer);
    const ws = this.transport.open();
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setState("open");
      for (const [topic, t] of this.topics) this.subscribeFrame(topic, t);
    };
    ws.onmessage = (m) => this.receive(m.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.barriers.clear();
      for (const t of this.topics.values()) t.ready = false;
      this.setState("offline");
      // 250 ms, 500 ms, 1 s … capped at 10 s, with jitter so many tabs do not reconnect in lockstep.
      // Offline: wait for the browser's "online" event instead of burning attempts.
      if (!this.transport.online()) return;
      const delay = Math.min(10_000, 250 * 2 ** this.attempt++) * (0.75 + Math.random() * 0.5);
      this.timer = window.setTimeout(() => this.connect(), delay);
    };
  }

  /** The browser says it is offline: do not trust the open socket (it may be half-dead for minutes). */
  drop() {
    this.ws?.close();
  }

  /** Reconnect now (e.g. the browser says it is online again). */
  retryNow() {
    if (!this.ws && this.topics.size) {
      this.attempt = 0;
      this.connect();
    }
  }

  private subscribeFrame(topic: string, t: Topic) {
    t.subId = newId("s");
    this.ws?.send(frame(topic, ClientEvent.subscribe, { id: t.subId, capabilities: CAPABILITIES }));
  }

  private receive(data: string) {
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!Array.isArray(frame) || frame.length !== 3) return;
    const [topic, event, payload] = frame as [string, string, any];
    const t = this.topics.get(topic);
    if (!t) {
      // An MCP approval without a notebook goes to every connection, whichever topic it names: every
      // topic's handlers see it (they tell approvals apart by id).
      if (event.startsWith("mcp:"))
        for (const x of this.topics.values()) x.handlers.forEach((h) => h(event, payload));
      return;
    }
    // A barrier's reply: `pong`, or an error for it from a server that does not know `ping` (frames are
    // still handled in order, so either way every earlier frame has been applied).
    const done =
      (event === ServerEvent.pong || event === ServerEvent.error) && this.barriers.get(payload?.requestId);
    if (done) {
      this.barriers.delete(payload.requestId);
      done();
      return;
    }
    if (event === ServerEvent.subscribed) {
      if (payload?.id !== t.subId) return;
      t.ready = true;
      const queued = t.queue.splice(0);
      for (const f of queued) this.ws?.send(f);
    }
    t.handlers.forEach((h) => h(event, payload));
  }

  subscribe(topic: string, h: Handler) {
    let t = this.topics.get(topic);
    if (!t) {
      t = { handlers: new Set(), ready: false, subId: "", queue: [] };
      this.topics.set(topic, t);
      if (this.ws?.readyState === OPEN) this.subscribeFrame(topic, t);
      else if (!this.ws) this.connect();
    }
    t.handlers.add(h);
    return () => {
      t!.handlers.delete(h);
      if (t!.handlers.size === 0) {
        this.topics.delete(topic);
        if (t!.ready) this.ws?.send(frame(topic, ClientEvent.unsubscribe, {}));
        if (this.topics.size === 0) {
          const ws = this.ws;
          this.ws = null;
          clearTimeout(this.timer);
          ws?.close(1000);
          this.setState("connecting");
        }
      }
    };
  }

  send<E extends ClientEvent>(topic: string, event: E, payload: ClientPayload<E> & { requestId?: string }) {
    const t = this.topics.get(topic);
    if (!t) return;
    const f = frame(topic, event, payload);
    if (t.ready && this.ws?.readyState === OPEN) this.ws.send(f);
    else t.queue.push(f);
  }

  /** Resolves once the server has handled every frame sent on `topic` before it (`ping` → `pong`). */
  barrier(topic: string): Promise<void> {
    const t = this.topics.get(topic);
    if (!t || !t.ready || this.ws?.readyState !== OPEN) return Promise.reject(new Error("offline"));
    const requestId = newId("b");
    const p = new Promise<void>((resolve) => this.barriers.set(requestId, resolve));
    this.ws.send(frame(topic, ClientEvent.ping, { requestId }));
    return p;
  }
}

const frame = <E extends ClientEvent>(topic: string, event: E, payload: ClientPayload<E>) =>
  JSON.stringify([topic, event, payload] satisfies Frame);

export const socket = new Socket();
addEventListener("online", () => socket.retryNow());
addEventListener("offline", () => socket.drop());

// A fake Quire server for the store's unit tests: the WebSocket (through ws.ts's `Transport`) and the session
// fetch, with one notebook. It answers `subscribe` and `ping` itself, applies `cell:update` and `cell:create`
// to its copy of the notebook (announcing a new cell to every tab, as Quire does), and records every frame;
// a test refuses requests or holds answers to stage the interleavings it needs. Everything is delivered in
// microtasks, so `settled()` is a few turns of the event loop and no test waits on a timer.
import type { Transport, WebSocketLike } from "../src/ws";
import {
  ClientEvent,
  ServerEvent,
  sessionTopic,
  type Cell,
  type ClientPayload,
  type Frame,
  type Session,
} from "../src/wire";

export type Sent = { topic: string; event: string; payload: any };

/** Let every queued delivery and promise callback run. */
export async function settled() {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

class FakeWebSocket implements WebSocketLike {
  readyState = 0; // CONNECTING
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: ((e: unknown) => void) | null = null;

  constructor(private server: FakeServer) {}

  send(data: string) {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    // CLOSING too: what the page sent before its own close() still reaches the server, as in a browser.
    queueMicrotask(
      () =>
        this.readyState <= 2 && this.readyState >= 1 && this.server.receive(this, JSON.parse(data) as Frame),
    );
  }
  close() {
    if (this.readyState !== 1) return this.server.hangUp(this);
    this.readyState = 2; // CLOSING: frames already sent are delivered first
    queueMicrotask(() => this.server.hangUp(this));
  }
  /** Server side: a frame to this client. */
  deliver(topic: string, event: string, payload: unknown) {
    const data = JSON.stringify([topic, event, payload]);
    queueMicrotask(() => this.readyState === 1 && this.onmessage?.({ data }));
  }
}

export class FakeServer {
  /** Whether a new connection is accepted. */
  up = true;
  /** What `navigator.onLine` says. */
  online = true;
  /** Answer `ping` at once; false holds the pongs (edits before them stay unconfirmed) until `releasePings`. */
  answerPings = true;
  /** Every frame received, in order (`subscribe` and `ping` included). */
  received: Sent[] = [];
  /** Sees every frame but `subscribe` and `ping` first; true means it answered (the frame is not applied). */
  onRequest: ((f: Sent, reply: (event: string, payload: unknown) => void) => boolean | void) | null = null;
  /** The server's copy of the notebook (what the session fetch answers). */
  session: Session;
  readonly transport: Transport = { open: () => this.open(), online: () => this.online };

  private conns = new Set<FakeWebSocket>();
  private heldPings: (() => void)[] = [];
  private heldFetches: ((s: Session) => void)[] = [];
  private holdFetches = false;

  constructor(session: Session) {
    this.session = structuredClone(session);
  }

  private open() {
    const ws = new FakeWebSocket(this);
    queueMicrotask(() => {
      if (!this.up) return this.hangUp(ws);
      ws.readyState = 1;
      this.conns.add(ws);
      ws.onopen?.({});
    });
    return ws;
  }

  hangUp(ws: FakeWebSocket) {
    if (ws.readyState === 3) return;
    ws.readyState = 3;
    this.conns.delete(ws);
    queueMicrotask(() => ws.onclose?.({}));
  }

  /** The connection breaks (server gone, network down): every open socket closes. */
  drop() {
    for (const ws of [...this.conns]) this.hangUp(ws);
  }

  receive(ws: FakeWebSocket, [topic, event, payload]: Frame) {
    const f: Sent = { topic, event, payload };
    this.received.push(f);
    const reply = (e: string, p: unknown) => ws.deliver(topic, e, p);
    if (event === ClientEvent.subscribe) return reply(ServerEvent.subscribed, { id: f.payload.id });
    if (event === ClientEvent.ping) {
      const pong = () => reply(ServerEvent.pong, { requestId: f.payload.requestId });
      return this.answerPings ? pong() : void this.heldPings.push(pong);
    }
    if (this.onRequest?.(f, reply)) return;
    this.apply(f);
  }

  private apply(f: Sent) {
    const cells = this.session.cells;
    if (f.event === ClientEvent.cellUpdate) {
      const p = f.payload as ClientPayload<typeof ClientEvent.cellUpdate>;
      this.session.cells = cells.map((c) => (c.id === p.cellId ? ({ ...c, ...p.updates } as Cell) : c));
    } else if (f.event === ClientEvent.cellCreate) {
      const p = f.payload as ClientPayload<typeof ClientEvent.cellCreate>;
      this.session.cells = [...cells.slice(0, p.index), p.cell, ...cells.slice(p.index)];
      this.broadcast(ServerEvent.cellCreated, { index: p.index, cell: p.cell }); // the sender gets it too
    }
  }

  /** Frames received of this event, in order. */
  sent(event: string) {
    return this.received.filter((f) => f.event === event);
  }

  /** Push an event to every subscriber of the notebook (another tab's change), or on another topic. */
  broadcast(event: string, payload: unknown, topic = sessionTopic(this.session.id)) {
    for (const ws of this.conns) ws.deliver(topic, event, payload);
  }

  releasePings() {
    this.answerPings = true;
    for (const pong of this.heldPings.splice(0)) pong();
  }

  /** The session fetch: at once, or held until `releaseFetches`. */
  fetchSession(id: string): Promise<Session> {
    if (id !== this.session.id) return Promise.reject(new Error("notebook_not_found"));
    if (!this.holdFetches) return Promise.resolve(structuredClone(this.session));
    return new Promise((resolve) => this.heldFetches.push(resolve));
  }
  holdFetch() {
    this.holdFetches = true;
  }
  /** Answer the held fetches with `session` (default: the server's copy now). */
  releaseFetches(session: Session = this.session) {
    this.holdFetches = false;
    for (const resolve of this.heldFetches.splice(0)) resolve(structuredClone(session));
  }
}

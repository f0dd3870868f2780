// Live state of one open notebook: cells from the server, local edits saved debounced (~300 ms) over
// the WebSocket, run output, diagnostics and language-service requests. Edits not yet confirmed by the
// server are kept in localStorage and re-sent after a reconnect or a reload, so typing is never lost.
import { api, type Cell, type CodeCell, type Session } from "../api";
import { newId, socket } from "../ws";

export type Output = { type: "stdout" | "stderr"; data: string };
export type Diagnostic = { code: number; category: string; text: string; start: { line: number; offset: number }; end: { line: number; offset: number } };
export type SaveState = "saved" | "saving" | "offline";
type Updates = { text: string } | { source: string };

const SAVE_DELAY = 300;
const REQUEST_TIMEOUT = 5000;
const pendingKey = (id: string) => `quire:pending:${id}`;

/** Srcbook's cell ids are 26 base32hex characters; any [A-Za-z0-9_-]{1,64} is accepted. */
export function newCellId() {
  const a = "0123456789abcdefghijklmnopqrstuv";
  const b = crypto.getRandomValues(new Uint8Array(26));
  return Array.from(b, (x) => a[x & 31]).join("");
}

export class NotebookStore {
  session: Session;
  cells: Cell[];
  outputs = new Map<string, Output[]>();
  errors = new Map<string, string[]>();
  diagnostics = new Map<string, Diagnostic[]>();
  missingPackages: string[] = [];
  depsOutOfSync = false;
  /** Events the server answered `not_implemented`: their buttons are disabled. */
  unsupported = new Set<string>();
  saveState: SaveState = "saved";
  version = 0;

  private topic: string;
  private listeners = new Set<() => void>();
  private cellListeners = new Map<string, Set<(c: Cell) => void>>();
  private timers = new Map<string, number>();
  /** cellId → latest updates not yet confirmed by a barrier. */
  private pending = new Map<string, Updates>();
  private inflight = new Map<string, { updates: Updates; barrier: number }>();
  private barrierSeq = 0;
  private requests = new Map<string, { event: string; resolve: (v: any) => void; reject: (e: Error) => void }>();
  private unsubscribe: () => void;
  tsconfig: string | undefined;

  constructor(session: Session) {
    this.session = session;
    this.cells = session.cells;
    this.tsconfig = session["tsconfig.json"];
    this.topic = `session:${session.id}`;
    this.restorePending();
    this.unsubscribe = socket.subscribe(this.topic, (e, p) => this.onEvent(e, p));
  }

  dispose() {
    this.flushAll();
    this.unsubscribe();
    for (const r of this.requests.values()) r.reject(new Error("closed"));
  }

  onChange(f: () => void) {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
  /** Editors listen for server-side changes of their own cell (another tab, formatting, rollback). */
  onCellReplaced(id: string, f: (c: Cell) => void) {
    let s = this.cellListeners.get(id);
    if (!s) this.cellListeners.set(id, (s = new Set()));
    s.add(f);
    return () => s!.delete(f);
  }
  private changed() {
    this.version++;
    this.listeners.forEach((f) => f());
  }

  get language() {
    return this.session.language;
  }
  cell(id: string) {
    return this.cells.find((c) => c.id === id);
  }

  send(event: string, payload: Record<string, unknown> = {}) {
    const requestId = newId();
    socket.send(this.topic, event, { ...payload, requestId });
    return requestId;
  }

  /** A request whose reply comes back to this connection only, matched by requestId. */
  ask<T>(event: string, payload: Record<string, unknown>): Promise<T> {
    if (this.unsupported.has(event)) return Promise.reject(new Error("not implemented"));
    const requestId = this.send(event, payload);
    return new Promise<T>((resolve, reject) => {
      this.requests.set(requestId, { event, resolve, reject });
      setTimeout(() => this.requests.delete(requestId) && reject(new Error("timeout")), REQUEST_TIMEOUT);
    });
  }

  // ---- edits ------------------------------------------------------------------------------------

  private restorePending() {
    try {
      const saved = JSON.parse(localStorage.getItem(pendingKey(this.session.id)) ?? "{}") as Record<string, Updates>;
      for (const [id, u] of Object.entries(saved)) {
        const c = this.cell(id);
        if (!c) continue;
        this.cells = this.cells.map((x) => (x.id === id ? ({ ...x, ...u } as Cell) : x));
        this.pending.set(id, u);
        this.schedule(id, 0);
      }
    } catch {
      localStorage.removeItem(pendingKey(this.session.id));
    }
  }
  private persistPending() {
    const all: Record<string, Updates> = {};
    for (const [id, f] of this.inflight) all[id] = f.updates;
    for (const [id, u] of this.pending) all[id] = u;
    const key = pendingKey(this.session.id);
    if (Object.keys(all).length) localStorage.setItem(key, JSON.stringify(all));
    else localStorage.removeItem(key);
  }

  /** Local edit: applied at once, sent after SAVE_DELAY of quiet. */
  edit(id: string, updates: Updates) {
    this.cells = this.cells.map((c) => (c.id === id ? ({ ...c, ...updates } as Cell) : c));
    this.pending.set(id, updates);
    this.persistPending();
    this.schedule(id, SAVE_DELAY);
    // No re-render per keystroke: editors own their text; only the save indicator changes.
    this.setSave("saving");
  }

  private schedule(id: string, delay: number) {
    clearTimeout(this.timers.get(id));
    this.timers.set(id, window.setTimeout(() => this.flush(id), delay));
  }

  flush(id: string) {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    const updates = this.pending.get(id);
    if (!updates) return;
    this.pending.delete(id);
    const barrier = ++this.barrierSeq;
    this.inflight.set(id, { updates, barrier });
    this.send("cell:update", { cellId: id, updates });
    socket.barrier(this.topic).then(
      () => this.confirm(barrier),
      () => this.setSave("offline"),
    );
  }
  flushAll() {
    for (const id of [...this.pending.keys()]) this.flush(id);
  }

  private confirm(barrier: number) {
    for (const [id, f] of this.inflight) if (f.barrier <= barrier) this.inflight.delete(id);
    this.persistPending();
    if (!this.inflight.size && !this.pending.size) this.setSave("saved");
  }

  private setSave(s: SaveState) {
    if (this.saveState !== s) {
      this.saveState = s;
      this.changed();
    }
  }

  /** After (re)subscribing: send again whatever the server may not have received. */
  private resend() {
    for (const [id, f] of this.inflight) if (!this.pending.has(id)) this.pending.set(id, f.updates);
    this.inflight.clear();
    for (const id of this.pending.keys()) this.flush(id);
    if (!this.pending.size && !this.inflight.size) this.setSave("saved");
  }

  private replace(cell: Cell) {
    // A local edit not yet sent is newer than the server's copy: it is sent next and wins.
    if (this.pending.has(cell.id)) {
      const local = this.pending.get(cell.id)!;
      cell = { ...cell, ...local } as Cell;
    }
    this.cells = this.cells.map((c) => (c.id === cell.id ? cell : c));
    this.cellListeners.get(cell.id)?.forEach((f) => f(cell));
  }

  createCell(index: number, kind: "code" | "markdown") {
    const id = newCellId();
    let cell: Cell;
    if (kind === "markdown") cell = { id, type: "markdown", text: "Write **markdown** here." };
    else {
      const ext = this.language === "typescript" ? "ts" : "js";
      const taken = new Set(this.cells.map((c) => (c.type === "code" ? c.filename : "")));
      let n = this.cells.filter((c) => c.type === "code").length + 1;
      while (taken.has(`cell${n}.${ext}`)) n++;
      cell = { id, type: "code", source: "", language: this.language, filename: `cell${n}.${ext}`, status: "idle" };
    }
    index = Math.max(2, Math.min(index, this.cells.length));
    this.cells = [...this.cells.slice(0, index), cell, ...this.cells.slice(index)];
    this.send("cell:create", { index, cell });
    this.changed();
    return id;
  }

  deleteCell(id: string) {
    this.pending.delete(id);
    this.cells = this.cells.filter((c) => c.id !== id);
    this.send("cell:delete", { cellId: id });
    this.changed();
  }

  moveCell(id: string, delta: number) {
    const from = this.cells.findIndex((c) => c.id === id);
    const to = from + delta;
    if (from < 0 || to < 2 || to >= this.cells.length) return;
    const next = [...this.cells];
    const [c] = next.splice(from, 1);
    next.splice(to, 0, c);
    this.cells = next;
    this.send("cell:move", { cellId: id, index: to });
    this.changed();
  }

  rename(id: string, filename: string) {
    this.cells = this.cells.map((c) => (c.id === id && c.type === "code" ? { ...c, filename } : c));
    this.errors.delete(id);
    this.send("cell:rename", { cellId: id, filename });
    this.changed();
  }

  // ---- running ----------------------------------------------------------------------------------

  run(id: string) {
    const c = this.cell(id);
    if (!c || c.type !== "code" || c.status === "running") return;
    this.flush(id); // the server runs what it has: send the latest text first (frames stay in order)
    this.outputs.set(id, []);
    this.errors.delete(id);
    this.cells = this.cells.map((x) => (x.id === id ? { ...(x as CodeCell), status: "running", exitCode: undefined, durationMs: undefined } : x));
    this.send("cell:exec", { cellId: id });
    this.changed();
  }
  stop(id: string) {
    this.send("cell:stop", { cellId: id });
  }
  runAll() {
    this.flushAll();
    for (const c of this.cells) if (c.type === "code") this.outputs.set(c.id, []);
    this.send("cell:exec_all", {});
    this.changed();
  }
  format(id: string) {
    this.flush(id);
    this.send("cell:format", { cellId: id });
  }
  installDeps(packages?: string[]) {
    const pkg = this.cells.find((c) => c.type === "package.json");
    if (pkg) {
      this.flush(pkg.id);
      this.outputs.set(pkg.id, []);
    }
    this.missingPackages = [];
    this.depsOutOfSync = false;
    this.send("deps:install", packages?.length ? { packages } : {});
    this.changed();
  }
  updateTsconfig(source: string) {
    this.tsconfig = source;
    this.send("tsconfig.json:update", { source });
  }

  // ---- server events ----------------------------------------------------------------------------

  private onEvent(event: string, p: any) {
    switch (event) {
      case "subscribed":
        this.resend();
        if (this.language === "typescript") this.send("tsserver:start", {});
        this.send("deps:validate", {});
        // Catch up with what changed while the connection was down.
        api.session(this.session.id).then((s) => {
          for (const c of s.cells) if (!this.cell(c.id)) return this.reloadFrom(s);
          if (s.cells.length !== this.cells.length) return this.reloadFrom(s);
          s.cells.forEach((c) => this.replace(c));
          this.changed();
        }, () => {});
        return;
      case "cell:updated":
        if (p?.cell?.id) this.replace(p.cell);
        break;
      case "cell:formatted":
        if (p?.cell?.id) {
          this.pending.delete(p.cell.id);
          this.replace(p.cell);
        }
        break;
      case "cell:created":
        if (p?.cell && !this.cell(p.cell.id)) {
          const i = Math.min(p.index, this.cells.length);
          this.cells = [...this.cells.slice(0, i), p.cell, ...this.cells.slice(i)];
        }
        break;
      case "cell:deleted":
        this.cells = this.cells.filter((c) => c.id !== p?.cellId);
        break;
      case "cell:moved": {
        const from = this.cells.findIndex((c) => c.id === p?.cellId);
        if (from < 0 || from === p.index) return;
        const next = [...this.cells];
        const [c] = next.splice(from, 1);
        next.splice(p.index, 0, c);
        this.cells = next;
        break;
      }
      case "cell:output": {
        const list = this.outputs.get(p.cellId) ?? [];
        this.outputs.set(p.cellId, [...list, p.output]);
        break;
      }
      case "cell:error":
        this.errors.set(p.cellId, (p.errors ?? []).map((e: { message: string }) => e.message));
        break;
      case "tsserver:cell:diagnostics":
        this.diagnostics.set(p.cellId, p.diagnostics ?? []);
        this.cellListeners.get(p.cellId)?.forEach((f) => f(this.cell(p.cellId)!));
        break;
      case "tsconfig.json:updated":
        this.tsconfig = p.source;
        break;
      case "deps:validate:response":
        if (Array.isArray(p?.packages)) this.missingPackages = p.packages;
        else this.depsOutOfSync = true;
        break;
      case "error":
        return this.onError(p);
      case "tsserver:error":
        this.notice = `Language service: ${p?.message ?? p?.code}`;
        break;
      default:
        if (event.endsWith(":response") && p?.requestId && this.requests.has(p.requestId)) {
          this.requests.get(p.requestId)!.resolve(p.response ?? null);
          this.requests.delete(p.requestId);
        }
        return;
    }
    this.changed();
  }

  private onError(p: { code: string; message: string; requestId?: string }) {
    const req = p.requestId ? this.requests.get(p.requestId) : undefined;
    if (req) {
      this.requests.delete(p.requestId!);
      if (p.code === "not_implemented") this.unsupported.add(req.event);
      req.reject(new Error(p.message));
    }
    if (p.code === "tsserver_unavailable") this.unsupported.add("tsserver:start");
    if (p.code === "not_implemented") {
      // Which event was refused: the server names it in the message ('cell:exec' …).
      const m = /'([a-z:._-]+)'/i.exec(p.message);
      if (m) this.unsupported.add(m[1]);
    } else if (p.code === "invalid_markdown" || p.code === "invalid_cell" || p.code === "invalid_tsconfig") {
      this.notice = p.message;
    }
    this.changed();
  }
  notice = "";

  private reloadFrom(s: Session) {
    this.session = s;
    this.cells = s.cells.map((c) => (this.pending.has(c.id) ? ({ ...c, ...this.pending.get(c.id) } as Cell) : c));
    this.changed();
  }
}

// Live state of one open notebook: cells from the server, local edits saved debounced (~300 ms) over
// the WebSocket, run output, diagnostics and language-service requests. Edits not yet confirmed by the
// server are kept in localStorage and re-sent after a reconnect or a reload, so typing is never lost.
// An edit the server refuses stays in the editor with the reason (a `Refusal`) until the user saves it
// again, re-creates the cell, or discards it: nothing typed is ever dropped behind the user's back.
import { api, type Cell, type CodeCell, type Session } from "../api";
import { newId, socket } from "../ws";
import { Deps } from "./deps";
import { RunAll } from "./runall";
import { freeName, holds, keptOf, lineOf, loadKept, restoreKept, saveKept, single, snapshot, withUpdates, type Updates } from "./edits";

export type Output = { type: "stdout" | "stderr"; data: string };
export type Diagnostic = { code: number; category: string; text: string; start: { line: number; offset: number }; end: { line: number; offset: number } };
export type SaveState = "saved" | "saving" | "offline" | "unsaved";
/** An edit the server did not take. `gone`: the server no longer has the cell at all. */
export type Refusal = { code: string; message: string; gone: boolean; line?: number; updates: Updates; server?: Cell };
export type { Updates };

const SAVE_DELAY = 300;
const REQUEST_TIMEOUT = 5000;
const TRANSIENT = /^(io_error|database_busy|database_error|internal|not_ready|insufficient_storage|offline)$/;
const GONE = "This cell no longer exists on the server (it was deleted elsewhere, or the server lost it)";

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
  deps: Deps;
  runAll: RunAll;
  /** Events the server answered `not_implemented`: their buttons are disabled. */
  unsupported = new Set<string>();
  refused = new Map<string, Refusal>();
  /** Not saved for a reason found before sending (an empty title, tsconfig that is not JSON) or refused
   * outside a cell (tsconfig): key → why. */
  problems = new Map<string, string>();
  saveState: SaveState = "saved";
  version = 0;
  notice = "";
  tsconfig: string | undefined;

  private topic: string;
  private listeners = new Set<() => void>();
  private saveListeners = new Set<() => void>();
  private cellListeners = new Map<string, Set<(c: Cell) => void>>();
  private timers = new Map<string, number>();
  /** cellId → latest updates not yet sent. */
  private pending = new Map<string, Updates>();
  /** cellId → updates sent and not yet confirmed by a barrier. */
  private inflight = new Map<string, { updates: Updates; barrier: number; requestId: string }>();
  /** Every `cell:update` request not yet answered: its cell and barrier. */
  private updateRequests = new Map<string, { id: string; barrier: number }>();
  private barrierSeq = 0;
  private offline = false;
  private tsconfigRequest = "";
  private requests = new Map<string, { event: string; resolve: (v: any) => void; reject: (e: Error) => void }>();
  private execRequests = new Map<string, string>();
  private createRequests = new Map<string, string>();
  private focusRequest: string | null = null;
  private unsubscribe: () => void;

  constructor(session: Session) {
    this.session = session;
    this.cells = session.cells;
    this.tsconfig = session["tsconfig.json"];
    this.topic = `session:${session.id}`;
    this.deps = new Deps({
      send: (e, p) => this.send(e, p),
      barrier: () => socket.barrier(this.topic),
      cells: () => this.cells,
      changed: () => this.changed(),
    });
    this.runAll = new RunAll({
      cells: () => this.cells,
      runnable: (id) => !this.isGone(id),
      run: (id) => this.run(id),
      stop: (id) => this.stop(id),
      changed: () => this.changed(),
    });
    this.restore();
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
  /** The save indicator alone follows `saveState`: it flips on every save, and a big notebook must not
   * re-render for that (each language-service request saves the cell first). */
  onSaveState(f: () => void) {
    this.saveListeners.add(f);
    return () => this.saveListeners.delete(f);
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
  private notifyCell(id: string) {
    const c = this.cell(id);
    if (c) this.cellListeners.get(id)?.forEach((f) => f(c));
  }

  get language() {
    return this.session.language;
  }
  cell(id: string) {
    return this.cells.find((c) => c.id === id);
  }
  isGone(id: string) {
    return this.refused.get(id)?.gone === true;
  }
  private unsaved(id: string) {
    return this.pending.has(id) || this.inflight.has(id) || this.refused.has(id);
  }
  /** The newest local text of a cell with unsaved edits. */
  private localUpdates(id: string): Updates | undefined {
    return this.pending.get(id) ?? this.inflight.get(id)?.updates ?? this.refused.get(id)?.updates;
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

  /** Whether the cell should take the focus now (it was just added with "+ Code", Alt+Enter …). */
  takeFocus(id: string) {
    if (this.focusRequest !== id) return false;
    this.focusRequest = null;
    return true;
  }
  wantsFocus(id: string) {
    return this.focusRequest === id;
  }

  // ---- edits ------------------------------------------------------------------------------------

  private restore() {
    const r = restoreKept(this.cells, loadKept(this.session.id), this.language);
    this.cells = r.cells;
    for (const [id, u] of r.resend) this.pending.set(id, u); // sent once subscribed (resend)
    for (const [id, u] of r.gone) this.refused.set(id, { code: "cell_not_found", message: GONE, gone: true, updates: u });
    this.refreshSave(false);
  }

  private persist() {
    const ids = new Set([...this.refused.keys(), ...this.inflight.keys(), ...this.pending.keys()]);
    const edits = [...ids].map((id) => ({ id, u: this.localUpdates(id)!, refused: this.refused.get(id) }));
    saveKept(this.session.id, keptOf(this.cells, edits));
  }

  /** What the save indicator says: anything refused wins, then offline, then in progress. */
  private refreshSave(notify = true) {
    const busy = this.pending.size > 0 || this.inflight.size > 0;
    const s: SaveState = this.refused.size || this.problems.size ? "unsaved" : busy ? (this.offline ? "offline" : "saving") : "saved";
    if (s !== this.saveState) {
      this.saveState = s;
      if (notify) this.saveListeners.forEach((f) => f());
    }
  }

  setProblem(key: string, why?: string) {
    if (why ? this.problems.get(key) === why : !this.problems.has(key)) return;
    if (why) this.problems.set(key, why);
    else this.problems.delete(key);
    this.refreshSave();
    this.changed();
  }

  /** Local edit: applied at once, sent after SAVE_DELAY of quiet. */
  edit(id: string, updates: Updates) {
    const c = this.cell(id);
    if (!c || (holds(c, updates) && !this.pending.has(id))) return;
    this.cells = this.cells.map((x) => (x.id === id ? withUpdates(x, updates) : x));
    const r = this.refused.get(id);
    if (r?.gone) {
      // Nowhere to send it: kept with the cell until the user re-creates or discards it.
      r.updates = updates;
      return this.persist();
    }
    this.pending.set(id, updates);
    this.persist();
    this.schedule(id, SAVE_DELAY);
    // No re-render per keystroke: editors own their text; only the save indicator changes.
    this.refreshSave();
  }

  /** Send this text now: the server answers language-service requests and runs for what it has. */
  flushText(id: string, updates: Updates) {
    this.edit(id, updates);
    this.flush(id);
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
    const requestId = this.send("cell:update", { cellId: id, updates });
    this.inflight.set(id, { updates, barrier, requestId });
    this.updateRequests.set(requestId, { id, barrier });
    socket.barrier(this.topic).then(
      () => this.confirm(barrier),
      () => ((this.offline = true), this.refreshSave()),
    );
    this.deps.sent(this.cell(id), "source" in updates ? updates.source : "");
  }
  flushAll() {
    for (const id of [...this.pending.keys()]) this.flush(id);
  }

  private confirm(barrier: number) {
    for (const [rid, u] of this.updateRequests) if (u.barrier <= barrier) this.updateRequests.delete(rid);
    for (const [id, f] of this.inflight)
      if (f.barrier <= barrier) {
        this.inflight.delete(id);
        // A later edit of a cell whose earlier edit was refused went through: the cell is saved now.
        if (this.refused.delete(id)) this.changed();
      }
    this.persist();
    this.refreshSave();
  }

  /** The server refused the cell's latest edit: keep its text, say why. */
  private refuse(id: string, code: string, message: string) {
    const updates = this.localUpdates(id);
    if (!updates) return;
    const gone = code === "cell_not_found";
    this.inflight.delete(id);
    const target = gone && single(this.cell(id)) ? this.cells.find((c) => c.type === this.cell(id)!.type && c.id !== id && !this.isGone(c.id)) : undefined;
    if (target) return this.moveEdit(id, target.id, updates);
    if (gone) {
      clearTimeout(this.timers.get(id));
      this.pending.delete(id);
    }
    const previous = this.refused.get(id);
    this.refused.set(id, { code, message: gone ? GONE : message, gone, line: gone ? undefined : lineOf(message), updates, server: previous?.server });
    this.errors.delete(id);
    this.persist();
    this.refreshSave();
    this.changed();
  }

  /** Send the kept text again (e.g. after fixing the problem, or once the server is back). */
  retry(id: string) {
    const r = this.refused.get(id);
    if (!r || r.gone) return;
    this.refused.delete(id);
    this.pending.set(id, this.pending.get(id) ?? r.updates);
    this.flush(id);
    this.refreshSave();
    this.changed();
  }

  /** The cell is gone from the server: add a new cell with its text where it was. */
  recreate(id: string) {
    const c = this.cell(id);
    const r = this.refused.get(id);
    if (!c || !r?.gone || (c.type !== "code" && c.type !== "markdown")) return;
    const at = this.cells.findIndex((x) => x.id === id);
    this.dropCell(id);
    const fresh = withUpdates(c.type === "code" ? { ...(snapshot(c) as CodeCell), filename: freeName(this.cells, c.filename) } : c, r.updates);
    this.insertCell(at, { ...fresh, id: newCellId() }, false);
  }

  /** The cell is gone but a code cell with its file name exists (ids changed): save the text into it. */
  saveInto(id: string, targetId: string) {
    const u = this.refused.get(id)?.updates;
    if (u) this.moveEdit(id, targetId, u);
  }

  /** Give up the kept text: the server's copy comes back (or the gone cell disappears). */
  discard(id: string) {
    const r = this.refused.get(id);
    if (!r) return;
    clearTimeout(this.timers.get(id));
    this.pending.delete(id);
    if (r.gone) return this.dropCell(id);
    this.refused.delete(id);
    this.persist();
    this.refreshSave();
    const put = (cell: Cell) => {
      this.cells = this.cells.map((c) => (c.id === id ? cell : c));
      this.notifyCell(id);
      this.changed();
    };
    if (r.server) put(r.server);
    api.session(this.session.id).then((s) => {
      const cell = s.cells.find((c) => c.id === id);
      if (cell && !this.unsaved(id)) put(cell);
    }, () => {});
  }

  /** A code cell (not gone) whose file name is this one: where a gone cell's text can be saved. */
  namesake(id: string) {
    const c = this.cell(id);
    if (c?.type !== "code") return undefined;
    return this.cells.find((x) => x.id !== id && x.type === "code" && x.filename === c.filename && !this.isGone(x.id));
  }

  private moveEdit(from: string, to: string, u: Updates) {
    this.inflight.delete(from);
    this.pending.delete(from);
    this.refused.delete(from);
    this.cells = this.cells.filter((c) => c.id !== from || c.id === to);
    this.edit(to, u);
    this.notifyCell(to);
    this.flush(to);
    this.changed();
  }

  private dropCell(id: string) {
    clearTimeout(this.timers.get(id));
    this.pending.delete(id);
    this.inflight.delete(id);
    this.refused.delete(id);
    this.cells = this.cells.filter((c) => c.id !== id);
    this.persist();
    this.refreshSave();
    this.changed();
  }

  /** After (re)subscribing: send again whatever the server may not have received. */
  private resend() {
    this.offline = false;
    // Refused for a passing reason (disk, database, server starting): worth sending again now.
    for (const [id, r] of this.refused) if (TRANSIENT.test(r.code)) (this.refused.delete(id), this.pending.set(id, this.pending.get(id) ?? r.updates));
    for (const [id, f] of this.inflight) if (!this.pending.has(id)) this.pending.set(id, f.updates);
    this.inflight.clear();
    for (const id of [...this.pending.keys()]) this.flush(id);
    this.refreshSave();
  }

  /** `catchUp`: the server's copy from a fetch, which may predate an edit sent but not yet confirmed. */
  private replace(cell: Cell, catchUp = false) {
    const r = this.refused.get(cell.id);
    if (r?.gone) {
      // It exists after all: send the kept text to it.
      this.refused.delete(cell.id);
      this.pending.set(cell.id, r.updates);
      this.schedule(cell.id, 0);
    } else if (r) r.server = cell;
    // A local edit not yet sent, or refused, is newer than the server's copy: it wins. So does one sent
    // but not yet confirmed, against a fetched copy (after a reconnect the catch-up fetch can answer
    // before the re-sent edit is applied); an event after that edit (a normalised echo) is newer.
    const local = catchUp ? this.localUpdates(cell.id) : (this.pending.get(cell.id) ?? this.refused.get(cell.id)?.updates);
    if (local) cell = withUpdates(cell, local);
    this.cells = this.cells.map((c) => (c.id === cell.id ? cell : c));
    this.cellListeners.get(cell.id)?.forEach((f) => f(cell));
  }

  private insertCell(index: number, cell: Cell, focus: boolean) {
    index = Math.max(2, Math.min(index, this.cells.length));
    this.cells = [...this.cells.slice(0, index), cell, ...this.cells.slice(index)];
    if (focus) this.focusRequest = cell.id;
    this.createRequests.set(this.send("cell:create", { index, cell }), cell.id);
    this.changed();
  }

  createCell(index: number, kind: "code" | "markdown", focus = false) {
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
    this.insertCell(index, cell, focus);
    return id;
  }

  deleteCell(id: string) {
    if (this.isGone(id)) return this.dropCell(id);
    this.dropCell(id);
    this.send("cell:delete", { cellId: id });
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
    if (!c || c.type !== "code" || c.status === "running" || this.isGone(id)) return false;
    this.flush(id); // the server runs what it has: send the latest text first (frames stay in order)
    this.outputs.set(id, []);
    this.errors.delete(id);
    this.cells = this.cells.map((x) => (x.id === id ? { ...(x as CodeCell), status: "running", exitCode: undefined, signal: undefined, durationMs: undefined } : x));
    this.execRequests.set(this.send("cell:exec", { cellId: id }), id);
    this.changed();
    return true;
  }
  stop(id: string) {
    this.send("cell:stop", { cellId: id });
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
    this.deps.installing();
    this.send("deps:install", packages?.length ? { packages } : {});
    this.changed();
  }
  updateTsconfig(source: string) {
    this.tsconfig = source;
    this.tsconfigRequest = this.send("tsconfig.json:update", { source });
  }

  // ---- server events ----------------------------------------------------------------------------

  private onEvent(event: string, p: any) {
    switch (event) {
      case "subscribed":
        this.resend();
        if (this.language === "typescript") this.send("tsserver:start", {});
        this.deps.validate();
        // Catch up with what changed while the connection was down.
        api.session(this.session.id).then((s) => {
          for (const c of s.cells) if (!this.cell(c.id)) return this.reloadFrom(s);
          if (s.cells.length !== this.cells.length) return this.reloadFrom(s);
          s.cells.forEach((c) => this.replace(c, true));
          this.cells.forEach((c) => this.runAll.settle(c));
          this.changed();
        }, () => {});
        return;
      case "cell:updated":
        if (!p?.cell?.id) break;
        if (!("exitCode" in p)) {
          this.replace(p.cell);
          break;
        }
        // A run's (or an install's) outcome.
        p.cell = { ...p.cell, exitCode: p.exitCode, signal: p.signal ?? null, durationMs: p.durationMs };
        if (p.cell.type === "package.json") {
          this.deps.installed(p.exitCode, p.cell.status === "failed");
        }
        this.replace(p.cell);
        for (const [rid, id] of this.execRequests) if (id === p.cell.id) this.execRequests.delete(rid);
        this.runAll.settle(p.cell);
        break;
      case "cell:formatted":
        if (p?.cell?.id) {
          this.pending.delete(p.cell.id);
          this.replace(p.cell);
        }
        break;
      case "cell:created":
        for (const [rid, id] of this.createRequests) if (id === p?.cell?.id) this.createRequests.delete(rid);
        if (p?.cell && !this.cell(p.cell.id)) {
          const i = Math.min(p.index, this.cells.length);
          this.cells = [...this.cells.slice(0, i), p.cell, ...this.cells.slice(i)];
        }
        break;
      case "cell:deleted":
        // Deleted elsewhere while this page has text the server never got: keep it, say so.
        if (this.unsaved(p?.cellId)) this.refuse(p.cellId, "cell_not_found", GONE);
        else this.cells = this.cells.filter((c) => c.id !== p?.cellId);
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
      case "cell:error": {
        const messages: string[] = (p.errors ?? []).map((e: { message: string }) => e.message);
        // Srcbook's refusal of an edit (before its rollback), should no `error` event have named it.
        if (this.inflight.has(p.cellId) && !p.errors?.some((e: { attribute?: string }) => e.attribute === "formatting"))
          this.refuse(p.cellId, "refused", messages.join(" "));
        // A refused edit's reason is shown with the kept text instead.
        if (!this.refused.has(p.cellId)) this.errors.set(p.cellId, messages);
        break;
      }
      case "tsserver:cell:diagnostics":
        this.diagnostics.set(p.cellId, p.diagnostics ?? []);
        this.cellListeners.get(p.cellId)?.forEach((f) => f(this.cell(p.cellId)!));
        break;
      case "tsconfig.json:updated":
        if (p.source === this.tsconfig) this.setProblem("tsconfig.json"); // what this page sent went through
        this.tsconfig = p.source;
        break;
      case "deps:validate:response":
        this.deps.response(p);
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
    const upd = p.requestId ? this.updateRequests.get(p.requestId) : undefined;
    if (upd) {
      this.updateRequests.delete(p.requestId!);
      // Only the cell's latest edit counts: an older one refused (e.g. sent twice around a reconnect) is moot.
      if (this.inflight.get(upd.id)?.requestId === p.requestId) this.refuse(upd.id, p.code, p.message);
      return;
    }
    const created = p.requestId ? this.createRequests.get(p.requestId) : undefined;
    if (created && this.cell(created)) {
      // The server did not take the new cell: it stays, with what it holds, to be re-created or dropped.
      const c = this.cell(created)!;
      const updates = this.localUpdates(created) ?? (c.type === "markdown" ? { text: c.text } : { source: "source" in c ? c.source : "" });
      this.pending.delete(created);
      this.refused.set(created, { code: p.code, message: `This cell could not be added: ${p.message}`, gone: true, updates });
      this.persist();
      this.refreshSave();
      return this.changed();
    }
    const exec = p.requestId ? this.execRequests.get(p.requestId) : undefined;
    if (exec) {
      this.execRequests.delete(p.requestId!);
      // The run never started: the cell is not running, and Run all must not wait for it.
      this.cells = this.cells.map((c) => (c.id === exec && c.type === "code" && c.status === "running" && p.code !== "already_running" ? { ...c, status: "idle" } : c));
      this.errors.set(exec, [p.message]);
      this.runAll.refused(exec);
    }
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
    } else if (p.requestId && p.requestId === this.tsconfigRequest) {
      this.setProblem("tsconfig.json", `tsconfig.json: ${p.message}`);
    }
    this.changed();
  }

  private reloadFrom(s: Session) {
    this.session = s;
    const next = s.cells.map((c) => (this.unsaved(c.id) ? withUpdates(c, this.localUpdates(c.id)!) : c));
    // Cells the server no longer has but this page has unsaved text for stay where they were.
    this.cells.forEach((c, i) => {
      if (next.some((x) => x.id === c.id) || !this.unsaved(c.id)) return;
      next.splice(Math.min(i, next.length), 0, c);
    });
    this.cells = next;
    for (const c of [...this.cells]) if (!s.cells.some((x) => x.id === c.id) && !this.isGone(c.id)) this.refuse(c.id, "cell_not_found", GONE);
    this.changed();
  }
}

// The first half of the notebook store (the rest is store.ts): the cells of one notebook and the local
// edits the server has not confirmed. An edit goes pending (typed, sent after SAVE_DELAY of quiet) → in
// flight (sent, until a `ping` barrier after it comes back) → confirmed; or it is refused and kept with the
// reason (a `Refusal`) until the user saves it again, re-creates the cell or discards it. Edits not yet
// confirmed are kept in localStorage and re-sent after a reconnect or a reload, so typing is never lost.
import {
  ClientEvent,
  type Approval,
  type Cell,
  type ClientPayload,
  type Session,
  type Updates,
} from "../wire";
import { newId, type Conn, type Handler } from "../ws";
import { holds, keptOf, lineOf, loadKept, restoreKept, saveKept, single, withUpdates } from "./edits";

export type SaveState = "saved" | "saving" | "offline" | "unsaved";
/** An edit the server did not take. `gone`: the server no longer has the cell at all. */
export type Refusal = {
  code: string;
  message: string;
  gone: boolean;
  line?: number;
  updates: Updates;
  server?: Cell;
};

/** What the store needs from outside: the page's WebSocket (ws.ts) and the session's HTTP fetch (api.ts). */
export type StoreIo = {
  socket: {
    subscribe(topic: string, h: Handler): () => void;
    send<E extends ClientEvent>(
      topic: string,
      event: E,
      payload: ClientPayload<E> & { requestId: string },
    ): void;
    /** Resolves once the server has handled every frame sent on `topic` before it. */
    barrier(topic: string): Promise<void>;
    /** The connection's state (AI jobs fail when it drops). */
    onState?(f: (c: Conn) => void): () => void;
  };
  session(id: string): Promise<Session>;
  /** The pending MCP approvals (`GET /api/mcp/approvals`; default: the page's API client). */
  approvals?: () => Promise<Approval[]>;
};

const SAVE_DELAY = 300;
const TRANSIENT = /^(io_error|database_busy|database_error|internal|not_ready|insufficient_storage|offline)$/;
export const GONE =
  "This cell no longer exists on the server (it was deleted elsewhere, or the server lost it)";

export abstract class UnsavedEdits {
  session: Session;
  cells: Cell[];
  errors = new Map<string, string[]>();
  refused = new Map<string, Refusal>();
  /** Not saved for a reason found before sending (an empty title, tsconfig that is not JSON) or refused
   * outside a cell (tsconfig): key → why. */
  problems = new Map<string, string>();
  saveState: SaveState = "saved";
  version = 0;

  protected topic: string;
  private listeners = new Set<() => void>();
  private saveListeners = new Set<() => void>();
  protected cellListeners = new Map<string, Set<(c: Cell) => void>>();
  private timers = new Map<string, number>();
  /** cellId → latest updates not yet sent. */
  protected pending = new Map<string, Updates>();
  /** cellId → updates sent and not yet confirmed by a barrier. */
  protected inflight = new Map<string, { updates: Updates; barrier: number; requestId: string }>();
  /** Every `cell:update` request not yet answered: its cell and barrier. */
  protected updateRequests = new Map<string, { id: string; barrier: number }>();
  private barrierSeq = 0;
  /** Per cell, when (on `clock`) this page last made or heard of a change to it: a session fetch sent
   * before that answers with an older copy, which must not replace it (a run's status, above all). */
  private heardAt = new Map<string, number>();
  private clock = 0;
  private offline = false;

  constructor(
    session: Session,
    topic: string,
    protected io: StoreIo,
  ) {
    this.session = session;
    this.cells = session.cells;
    this.topic = topic;
  }

  /** An edit of this cell went out with this text. */
  protected abstract sent(cell: Cell | undefined, text: string): void;

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
  protected changed() {
    this.version++;
    this.listeners.forEach((f) => f());
  }
  protected notifyCell(id: string) {
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
  protected unsaved(id: string) {
    return this.pending.has(id) || this.inflight.has(id) || this.refused.has(id);
  }
  /** The newest local text of a cell with unsaved edits. */
  protected localUpdates(id: string): Updates | undefined {
    return this.pending.get(id) ?? this.inflight.get(id)?.updates ?? this.refused.get(id)?.updates;
  }

  send<E extends ClientEvent>(event: E, payload: ClientPayload<E>) {
    const requestId = newId();
    this.io.socket.send(this.topic, event, { ...payload, requestId });
    return requestId;
  }

  protected restore() {
    const r = restoreKept(this.cells, loadKept(this.session.id), this.language);
    this.cells = r.cells;
    for (const [id, u] of r.resend) this.pending.set(id, u); // sent once subscribed (resend)
    for (const [id, u] of r.gone)
      this.refused.set(id, { code: "cell_not_found", message: GONE, gone: true, updates: u });
    this.refreshSave(false);
  }

  protected persist() {
    const ids = new Set([...this.refused.keys(), ...this.inflight.keys(), ...this.pending.keys()]);
    const edits = [...ids].map((id) => ({ id, u: this.localUpdates(id)!, refused: this.refused.get(id) }));
    saveKept(this.session.id, keptOf(this.cells, edits));
  }

  /** What the save indicator says: anything refused wins, then offline, then in progress. */
  protected refreshSave(notify = true) {
    const busy = this.pending.size > 0 || this.inflight.size > 0;
    let s: SaveState = "saved";
    if (this.refused.size || this.problems.size) s = "unsaved";
    else if (busy) s = this.offline ? "offline" : "saving";
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

  /** Replace the cell's text from outside its editor (an accepted AI proposal): saved at once like a typed
   * edit, and its editor shows it. */
  replaceText(id: string, updates: Updates) {
    const c = this.cell(id);
    if (!c || this.isGone(id)) return false;
    this.edit(id, updates);
    this.notifyCell(id);
    this.flush(id);
    return true;
  }

  /** Send this text now: the server answers language-service requests and runs for what it has. */
  flushText(id: string, updates: Updates) {
    this.edit(id, updates);
    this.flush(id);
  }

  private schedule(id: string, delay: number) {
    clearTimeout(this.timers.get(id));
    this.timers.set(
      id,
      window.setTimeout(() => this.flush(id), delay),
    );
  }

  flush(id: string) {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    const updates = this.pending.get(id);
    if (!updates) return;
    this.pending.delete(id);
    const barrier = ++this.barrierSeq;
    const requestId = this.send(ClientEvent.cellUpdate, { cellId: id, updates });
    this.inflight.set(id, { updates, barrier, requestId });
    this.updateRequests.set(requestId, { id, barrier });
    this.io.socket.barrier(this.topic).then(
      () => this.confirm(barrier),
      () => ((this.offline = true), this.refreshSave()),
    );
    this.sent(this.cell(id), "source" in updates ? updates.source : "");
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
  protected refuse(id: string, code: string, message: string) {
    const updates = this.localUpdates(id);
    if (!updates) return;
    const gone = code === "cell_not_found";
    this.inflight.delete(id);
    const target =
      gone && single(this.cell(id))
        ? this.cells.find((c) => c.type === this.cell(id)!.type && c.id !== id && !this.isGone(c.id))
        : undefined;
    if (target) return this.moveEdit(id, target.id, updates);
    if (gone) {
      clearTimeout(this.timers.get(id));
      this.pending.delete(id);
    }
    const previous = this.refused.get(id);
    this.refused.set(id, {
      code,
      message: gone ? GONE : message,
      gone,
      line: gone ? undefined : lineOf(message),
      updates,
      server: previous?.server,
    });
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
    const mark = this.fetchMark();
    this.io.session(this.session.id).then(
      (s) => {
        const cell = s.cells.find((c) => c.id === id);
        if (cell && !this.unsaved(id) && this.fetchedCopyCounts(id, mark)) put(cell);
      },
      () => {},
    );
  }

  /** A code cell (not gone) whose file name is this one: where a gone cell's text can be saved. */
  namesake(id: string) {
    const c = this.cell(id);
    if (c?.type !== "code") return undefined;
    return this.cells.find(
      (x) => x.id !== id && x.type === "code" && x.filename === c.filename && !this.isGone(x.id),
    );
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

  protected dropCell(id: string) {
    clearTimeout(this.timers.get(id));
    this.pending.delete(id);
    this.inflight.delete(id);
    this.refused.delete(id);
    this.cells = this.cells.filter((c) => c.id !== id);
    this.persist();
    this.refreshSave();
    this.changed();
  }

  /** This page changed the cell, or heard of a change to it from the server. */
  protected heard(id: string) {
    this.heardAt.set(id, ++this.clock);
  }
  /** Mark the sending of a session fetch; `fetchedCopyCounts(id, mark)` when it answers. */
  protected fetchMark() {
    return this.clock;
  }
  /** Whether the copy of a cell a fetch sent at `mark` brings is not older than what the page has. */
  protected fetchedCopyCounts(id: string, mark: number) {
    return (this.heardAt.get(id) ?? 0) <= mark;
  }

  /** After (re)subscribing: send again whatever the server may not have received. */
  protected resend() {
    this.offline = false;
    // Refused for a passing reason (disk, database, server starting): worth sending again now.
    for (const [id, r] of this.refused)
      if (TRANSIENT.test(r.code))
        (this.refused.delete(id), this.pending.set(id, this.pending.get(id) ?? r.updates));
    for (const [id, f] of this.inflight) if (!this.pending.has(id)) this.pending.set(id, f.updates);
    this.inflight.clear();
    for (const id of [...this.pending.keys()]) this.flush(id);
    this.refreshSave();
  }

  /** `catchUp`: the server's copy from a fetch, which may predate an edit sent but not yet confirmed. */
  protected replace(cell: Cell, catchUp = false) {
    if (!catchUp) this.heard(cell.id);
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
    const local = catchUp
      ? this.localUpdates(cell.id)
      : (this.pending.get(cell.id) ?? this.refused.get(cell.id)?.updates);
    if (local) cell = withUpdates(cell, local);
    this.cells = this.cells.map((c) => (c.id === cell.id ? cell : c));
    this.cellListeners.get(cell.id)?.forEach((f) => f(cell));
  }
}

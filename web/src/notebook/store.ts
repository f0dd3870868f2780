// Live state of one open notebook: cells from the server, local edits saved debounced (~300 ms) over
// the WebSocket (kept until confirmed, and refused ones kept with the reason: unsaved.ts), run output,
// diagnostics and language-service requests, and the server's events.
import { api } from "../api";
import { socket } from "../ws";
import {
  ClientEvent,
  isReply,
  refusedEvent,
  ServerEvent,
  sessionTopic,
  type Cell,
  type ClientPayload,
  type CodeCell,
  type Diagnostic,
  type ErrorPayload,
  type LsReply,
  type LsRequestEvent,
  type LsResponses,
  type Output,
  type ServerPayload,
  type Session,
} from "../wire";
import { Deps } from "./deps";
import { RunAll } from "./runall";
import { freeName, snapshot, withUpdates } from "./edits";
import { GONE, UnsavedEdits, type StoreIo } from "./unsaved";
import { AiJobs } from "../ai/jobs";
import { Approvals } from "../mcp/approvals";

export type { Diagnostic, Output, Updates } from "../wire";
export type { Refusal, SaveState, StoreIo } from "./unsaved";

const REQUEST_TIMEOUT = 5000;

/** The page's own socket and API client. */
const browserIo: StoreIo = { socket, session: (id) => api.session(id) };

/** Srcbook's cell ids are 26 base32hex characters; any [A-Za-z0-9_-]{1,64} is accepted. */
export function newCellId() {
  const a = "0123456789abcdefghijklmnopqrstuv";
  const b = crypto.getRandomValues(new Uint8Array(26));
  return Array.from(b, (x) => a[x & 31]).join("");
}

/** A server event with its payload, as the switch in `onEvent` narrows it. */
type ServerMessage = { [E in ServerEvent]: { event: E; p: ServerPayload<E> } }[ServerEvent];

export class NotebookStore extends UnsavedEdits {
  outputs = new Map<string, Output[]>();
  diagnostics = new Map<string, Diagnostic[]>();
  deps: Deps;
  runAll: RunAll;
  /** AI jobs of this notebook (capability "ai"). */
  ai: AiJobs;
  /** MCP tool calls waiting for this page's approval (capability "mcp"). */
  mcp: Approvals;
  /** Events the server answered `not_implemented`: their buttons are disabled. */
  unsupported = new Set<string>();
  notice = "";
  tsconfig: string | undefined;

  private tsconfigRequest = "";
  private requests = new Map<
    string,
    { event: string; resolve: (v: any) => void; reject: (e: Error) => void }
  >();
  private execRequests = new Map<string, string>();
  private createRequests = new Map<string, string>();
  private focusRequest: string | null = null;
  private unsubscribe: () => void;

  constructor(session: Session, io: StoreIo = browserIo) {
    super(session, sessionTopic(session.id), io);
    this.tsconfig = session["tsconfig.json"];
    this.deps = new Deps({
      send: (e, p) => this.send(e, p),
      barrier: () => io.socket.barrier(this.topic),
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
    this.unsubscribe = io.socket.subscribe(this.topic, (e, p) => this.onEvent(e, p));
    this.ai = new AiJobs(io.socket, this.topic);
    this.mcp = new Approvals(io.socket, this.topic, session.id, io.approvals ?? (() => api.mcpApprovals()));
    this.mcp.onChange(() => this.ai.approvalsChanged(this.mcp.pending));
  }

  dispose() {
    this.flushAll();
    this.ai.dispose();
    this.mcp.dispose();
    this.unsubscribe();
    for (const r of this.requests.values()) r.reject(new Error("closed"));
  }

  protected sent(cell: Cell | undefined, text: string) {
    this.deps.sent(cell, text);
  }

  /** A request whose reply comes back to this connection only, matched by requestId. */
  ask<E extends LsRequestEvent>(event: E, payload: ClientPayload<E>): Promise<LsResponses[E]> {
    if (this.unsupported.has(event)) return Promise.reject(new Error("not implemented"));
    const requestId = this.send(event, payload);
    return new Promise<LsResponses[E]>((resolve, reject) => {
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

  // ---- cells ------------------------------------------------------------------------------------

  /** The cell is gone from the server: add a new cell with its text where it was. */
  recreate(id: string) {
    const c = this.cell(id);
    const r = this.refused.get(id);
    if (!c || !r?.gone || (c.type !== "code" && c.type !== "markdown")) return;
    const at = this.cells.findIndex((x) => x.id === id);
    this.dropCell(id);
    const fresh = withUpdates(
      c.type === "code" ? { ...(snapshot(c) as CodeCell), filename: freeName(this.cells, c.filename) } : c,
      r.updates,
    );
    this.insertCell(at, { ...fresh, id: newCellId() }, false);
  }

  private insertCell(index: number, cell: Cell, focus: boolean) {
    index = Math.max(2, Math.min(index, this.cells.length));
    this.cells = [...this.cells.slice(0, index), cell, ...this.cells.slice(index)];
    if (focus) this.focusRequest = cell.id;
    this.createRequests.set(this.send(ClientEvent.cellCreate, { index, cell }), cell.id);
    this.changed();
  }

  /** A new cell at `index`: empty (a placeholder for markdown), or with `init`'s text (an accepted AI
   * proposal; a file name taken already gets a suffix). */
  createCell(
    index: number,
    kind: "code" | "markdown",
    focus = false,
    init?: { text?: string; source?: string; filename?: string },
  ) {
    const id = newCellId();
    let cell: Cell;
    if (kind === "markdown") cell = { id, type: "markdown", text: init?.text ?? "Write **markdown** here." };
    else {
      const ext = this.language === "typescript" ? "ts" : "js";
      const taken = new Set(this.cells.map((c) => (c.type === "code" ? c.filename : "")));
      let n = this.cells.filter((c) => c.type === "code").length + 1;
      while (taken.has(`cell${n}.${ext}`)) n++;
      cell = {
        id,
        type: "code",
        source: init?.source ?? "",
        language: this.language,
        filename: init?.filename ? freeName(this.cells, init.filename) : `cell${n}.${ext}`,
        status: "idle",
      };
    }
    this.insertCell(index, cell, focus);
    return id;
  }

  deleteCell(id: string) {
    if (this.isGone(id)) return this.dropCell(id);
    this.dropCell(id);
    this.send(ClientEvent.cellDelete, { cellId: id });
  }

  moveCell(id: string, delta: number) {
    const from = this.cells.findIndex((c) => c.id === id);
    const to = from + delta;
    if (from < 0 || to < 2 || to >= this.cells.length) return;
    const next = [...this.cells];
    const [c] = next.splice(from, 1);
    next.splice(to, 0, c);
    this.cells = next;
    this.send(ClientEvent.cellMove, { cellId: id, index: to });
    this.changed();
  }

  rename(id: string, filename: string) {
    this.cells = this.cells.map((c) => (c.id === id && c.type === "code" ? { ...c, filename } : c));
    this.errors.delete(id);
    this.send(ClientEvent.cellRename, { cellId: id, filename });
    this.changed();
  }

  // ---- running ----------------------------------------------------------------------------------

  run(id: string) {
    const c = this.cell(id);
    if (!c || c.type !== "code" || c.status === "running" || this.isGone(id)) return false;
    this.flush(id); // the server runs what it has: send the latest text first (frames stay in order)
    this.heard(id);
    this.outputs.set(id, []);
    this.errors.delete(id);
    this.cells = this.cells.map((x) =>
      x.id === id
        ? {
            ...(x as CodeCell),
            status: "running",
            exitCode: undefined,
            signal: undefined,
            durationMs: undefined,
          }
        : x,
    );
    this.execRequests.set(this.send(ClientEvent.cellExec, { cellId: id }), id);
    this.changed();
    return true;
  }
  stop(id: string) {
    this.send(ClientEvent.cellStop, { cellId: id });
  }

  format(id: string) {
    this.flush(id);
    this.send(ClientEvent.cellFormat, { cellId: id });
  }
  installDeps(packages?: string[]) {
    const pkg = this.cells.find((c) => c.type === "package.json");
    if (pkg) {
      this.flush(pkg.id);
      this.outputs.set(pkg.id, []);
    }
    this.deps.installing();
    this.send(ClientEvent.depsInstall, packages?.length ? { packages } : {});
    this.changed();
  }
  updateTsconfig(source: string) {
    this.tsconfig = source;
    this.tsconfigRequest = this.send(ClientEvent.tsconfigUpdate, { source });
  }

  // ---- server events ----------------------------------------------------------------------------

  private onEvent(event: string, payload: unknown) {
    const m = { event, p: payload } as ServerMessage; // typed, not checked: the cases stay defensive
    switch (m.event) {
      case ServerEvent.subscribed:
        this.resend();
        if (this.language === "typescript") this.send(ClientEvent.tsserverStart, {});
        this.deps.validate();
        this.catchUp();
        return;
      case ServerEvent.cellUpdated: {
        const p = m.p;
        if (!p?.cell?.id) break;
        if (!("exitCode" in p)) {
          this.replace(p.cell);
          break;
        }
        // A run's (or an install's) outcome.
        const cell = {
          ...p.cell,
          exitCode: p.exitCode,
          signal: p.signal ?? null,
          durationMs: p.durationMs,
        } as Cell;
        if (cell.type === "package.json") {
          this.deps.installed(p.exitCode ?? null, cell.status === "failed");
        }
        this.replace(cell);
        for (const [rid, id] of this.execRequests) if (id === cell.id) this.execRequests.delete(rid);
        this.runAll.settle(cell);
        break;
      }
      case ServerEvent.cellFormatted:
        if (m.p?.cell?.id) {
          this.pending.delete(m.p.cell.id);
          this.replace(m.p.cell);
        }
        break;
      case ServerEvent.cellCreated: {
        const p = m.p;
        for (const [rid, id] of this.createRequests) if (id === p?.cell?.id) this.createRequests.delete(rid);
        if (p?.cell && !this.cell(p.cell.id)) {
          const i = Math.min(p.index, this.cells.length);
          this.cells = [...this.cells.slice(0, i), p.cell, ...this.cells.slice(i)];
        }
        break;
      }
      case ServerEvent.cellDeleted:
        // Deleted elsewhere while this page has text the server never got: keep it, say so.
        if (this.unsaved(m.p?.cellId)) this.refuse(m.p.cellId, "cell_not_found", GONE);
        else this.cells = this.cells.filter((c) => c.id !== m.p?.cellId);
        break;
      case ServerEvent.cellMoved: {
        const p = m.p;
        const from = this.cells.findIndex((c) => c.id === p?.cellId);
        if (from < 0 || from === p.index) return;
        const next = [...this.cells];
        const [c] = next.splice(from, 1);
        next.splice(p.index, 0, c);
        this.cells = next;
        break;
      }
      case ServerEvent.cellOutput: {
        const list = this.outputs.get(m.p.cellId) ?? [];
        this.outputs.set(m.p.cellId, [...list, m.p.output]);
        break;
      }
      case ServerEvent.cellError: {
        const p = m.p;
        const messages = (p.errors ?? []).map((e) => e.message);
        // Srcbook's refusal of an edit (before its rollback), should no `error` event have named it.
        if (this.inflight.has(p.cellId) && !p.errors?.some((e) => e.attribute === "formatting"))
          this.refuse(p.cellId, "refused", messages.join(" "));
        // A refused edit's reason is shown with the kept text instead.
        if (!this.refused.has(p.cellId)) this.errors.set(p.cellId, messages);
        break;
      }
      case ServerEvent.diagnostics:
        this.diagnostics.set(m.p.cellId, m.p.diagnostics ?? []);
        this.cellListeners.get(m.p.cellId)?.forEach((f) => f(this.cell(m.p.cellId)!));
        break;
      case ServerEvent.tsconfigUpdated:
        if (m.p.source === this.tsconfig) this.setProblem("tsconfig.json"); // what this page sent went through
        this.tsconfig = m.p.source;
        break;
      case ServerEvent.depsValidateResponse:
        this.deps.response(m.p);
        break;
      case ServerEvent.error:
        return this.onError(m.p);
      case ServerEvent.tsserverError:
        this.notice = `Language service: ${m.p?.message ?? m.p?.code}`;
        break;
      default: {
        const p = payload as LsReply | undefined;
        if (isReply(event) && p?.requestId && this.requests.has(p.requestId)) {
          this.requests.get(p.requestId)!.resolve(p.response ?? null);
          this.requests.delete(p.requestId);
        }
        return;
      }
    }
    this.changed();
  }

  /** Catch up with what changed while the connection was down. */
  private catchUp() {
    const mark = this.fetchMark();
    this.io.session(this.session.id).then(
      (s) => {
        for (const c of s.cells) if (!this.cell(c.id)) return this.reloadFrom(s, mark);
        if (s.cells.length !== this.cells.length) return this.reloadFrom(s, mark);
        // A cell run (or changed) since the fetch went out keeps what this page knows of it: the
        // fetched copy is older and would end a Run all that is waiting for that cell.
        s.cells.filter((c) => this.fetchedCopyCounts(c.id, mark)).forEach((c) => this.replace(c, true));
        this.cells.forEach((c) => this.runAll.settle(c));
        this.changed();
      },
      () => {},
    );
  }

  private onError(p: ErrorPayload) {
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
      const updates =
        this.localUpdates(created) ??
        (c.type === "markdown" ? { text: c.text } : { source: "source" in c ? c.source : "" });
      this.pending.delete(created);
      this.refused.set(created, {
        code: p.code,
        message: `This cell could not be added: ${p.message}`,
        gone: true,
        updates,
      });
      this.persist();
      this.refreshSave();
      return this.changed();
    }
    const exec = p.requestId ? this.execRequests.get(p.requestId) : undefined;
    if (exec) {
      this.execRequests.delete(p.requestId!);
      // The run never started: the cell is not running, and Run all must not wait for it.
      this.cells = this.cells.map((c) =>
        c.id === exec && c.type === "code" && c.status === "running" && p.code !== "already_running"
          ? { ...c, status: "idle" }
          : c,
      );
      this.errors.set(exec, [p.message]);
      this.runAll.refused(exec);
    }
    const req = p.requestId ? this.requests.get(p.requestId) : undefined;
    if (req) {
      this.requests.delete(p.requestId!);
      if (p.code === "not_implemented") this.unsupported.add(req.event);
      req.reject(new Error(p.message));
    }
    if (p.code === "tsserver_unavailable") this.unsupported.add(ClientEvent.tsserverStart);
    if (p.code === "not_implemented") {
      // Which event was refused: the error's `event` (or, from older servers, the name in its message).
      const refused = refusedEvent(p);
      if (refused) this.unsupported.add(refused);
    } else if (p.requestId && p.requestId === this.tsconfigRequest) {
      this.setProblem("tsconfig.json", `tsconfig.json: ${p.message}`);
    }
    this.changed();
  }

  private reloadFrom(s: Session, mark: number) {
    this.session = s;
    const next = s.cells.map((c) => {
      const mine = this.cell(c.id);
      if (mine && !this.fetchedCopyCounts(c.id, mark)) return mine;
      return this.unsaved(c.id) ? withUpdates(c, this.localUpdates(c.id)!) : c;
    });
    // Cells the server no longer has but this page has unsaved text for stay where they were; so do cells
    // this page added whose cell:create is not answered yet (the fetch may have answered before it landed).
    this.cells.forEach((c, i) => {
      if (next.some((x) => x.id === c.id) || !(this.unsaved(c.id) || this.creating(c.id))) return;
      next.splice(Math.min(i, next.length), 0, c);
    });
    this.cells = next;
    for (const c of [...this.cells])
      if (!s.cells.some((x) => x.id === c.id) && !this.isGone(c.id) && !this.creating(c.id))
        this.refuse(c.id, "cell_not_found", GONE);
    this.changed();
  }

  /** A cell this page added, until the server announces it (`cell:created`) or refuses it. */
  private creating(id: string) {
    return [...this.createRequests.values()].includes(id);
  }
}

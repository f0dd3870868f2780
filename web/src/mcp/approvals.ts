// The approval queue of a notebook page (capability "mcp"): the server holds every MCP tool call until a
// client answers it. `mcp:approval` events for this notebook (or for none) queue here in arrival order;
// answering sends `mcp:approve`; `mcp:approval:resolved` (answered in another tab, timed out, cancelled)
// removes the one it names with a short note. On every (re)subscribe the pending list is fetched again
// (`GET /api/mcp/approvals`), so nothing is missed while the socket was down.
import { newId } from "../ws";
import {
  ClientEvent,
  ServerEvent,
  type Approval,
  type ApprovalResolved,
  type ErrorPayload,
  type McpAnswer,
} from "../wire";
import type { AiIo } from "../ai/jobs";

/** The part of the page's socket approvals use: the AI jobs' own, without connection state. */
export type ApprovalIo = Pick<AiIo, "subscribe" | "send">;

/** `server__tool`'s display: "tool · server". */
export const toolLabel = (a: { server: string; tool: string }) => `${a.tool} · ${a.server}`;

const OUTCOME: Record<string, string> = {
  allowed: "allowed",
  denied: "denied",
  timeout: "denied: nobody answered in time",
  cancelled: "cancelled",
};

export class Approvals {
  /** Pending approvals, oldest first: the dialog shows the first. */
  pending: Approval[] = [];
  /** The last resolution, for a status line ("add · calc: allowed in another tab"). */
  note = "";
  /** When `note` was set (ms since the epoch). */
  noteAt = 0;
  private listeners = new Set<() => void>();
  private off: () => void;
  /** Answered here: its resolution is not "from another tab". */
  private answered = new Map<string, McpAnswer>();
  private byRequest = new Map<string, string>();
  /** Resolved ids (a late `mcp:approval` or a stale fetch must not bring them back). */
  private resolved = new Set<string>();
  private arrivals = 0;
  private arrivedAt = new Map<string, number>();

  constructor(
    private io: ApprovalIo,
    private topic: string,
    private notebookId: string,
    private list: () => Promise<Approval[]>,
  ) {
    this.off = io.subscribe(topic, (e, p) => this.onEvent(e, p));
  }

  dispose() {
    this.off();
    this.listeners.clear();
  }

  onChange(f: () => void) {
    this.listeners.add(f);
    return () => void this.listeners.delete(f);
  }

  /** Answer the approval: allow once, always allow (a rule for this server and tool), or deny. */
  answer(id: string, decision: McpAnswer["decision"], always = false) {
    const a = this.pending.find((x) => x.id === id);
    if (!a) return;
    const answer: McpAnswer = decision === "allow" && always ? { decision, always: true } : { decision };
    const requestId = newId();
    this.answered.set(id, answer);
    this.byRequest.set(requestId, id);
    this.io.send(this.topic, ClientEvent.mcpApprove, { id, ...answer, requestId });
    const what = decision === "deny" ? "denied" : always ? "always allowed" : "allowed once";
    this.remove(id, `${toolLabel(a)}: ${what}.`);
  }

  private mine(a: Approval) {
    return !a.notebookId || a.notebookId === this.notebookId;
  }

  private add(a: Approval) {
    if (!a || typeof a.id !== "string" || !this.mine(a) || this.resolved.has(a.id)) return;
    if (this.pending.some((x) => x.id === a.id)) return;
    this.arrivedAt.set(a.id, ++this.arrivals);
    this.pending = [...this.pending, a];
    this.changed();
  }

  private remove(id: string, note?: string) {
    this.resolved.add(id);
    this.arrivedAt.delete(id);
    const had = this.pending.some((x) => x.id === id);
    this.pending = this.pending.filter((x) => x.id !== id);
    if (note !== undefined) this.setNote(note);
    if (had || note !== undefined) this.changed();
  }

  private setNote(note: string) {
    this.note = note;
    this.noteAt = Date.now();
  }

  private changed() {
    this.listeners.forEach((f) => f());
  }

  private onEvent(event: string, p: any) {
    switch (event) {
      case ServerEvent.subscribed:
        return this.refresh();
      case ServerEvent.mcpApproval:
        return this.add(p as Approval);
      case ServerEvent.mcpApprovalResolved:
        return this.onResolved(p as ApprovalResolved);
      case ServerEvent.error:
        return this.onError(p as ErrorPayload);
    }
  }

  private onResolved(r: ApprovalResolved) {
    if (typeof r?.id !== "string") return;
    const a = this.pending.find((x) => x.id === r.id);
    if (this.answered.has(r.id)) {
      this.answered.delete(r.id);
      return this.remove(r.id); // the note already says what this tab answered
    }
    if (!a) return void this.resolved.add(r.id);
    const how = OUTCOME[r.outcome] ?? String(r.outcome ?? "resolved");
    const where = r.outcome === "allowed" || r.outcome === "denied" ? " elsewhere" : "";
    const by = r.by ? `, by ${r.by}` : "";
    this.remove(r.id, `${toolLabel(a)}: ${how}${where}${by}.`);
  }

  /** `mcp:approve` refused (e.g. already resolved, timed out): the approval is gone either way. */
  private onError(p: ErrorPayload) {
    const id = p?.requestId ? this.byRequest.get(p.requestId) : undefined;
    if (!id) return;
    this.byRequest.delete(p.requestId!);
    this.answered.delete(id);
    this.setNote(`Not answered: ${String(p.message ?? p.code).replace(/\.$/, "")}.`);
    this.changed();
  }

  /** The server's pending list; what arrived (or was resolved) while the fetch was out wins. */
  private refresh() {
    const mark = this.arrivals;
    this.list().then(
      (list) => {
        if (!Array.isArray(list)) return;
        const fresh = this.pending.filter((a) => (this.arrivedAt.get(a.id) ?? 0) > mark);
        const known = list.filter((a) => a && this.mine(a) && !this.resolved.has(a.id));
        const next = [...known, ...fresh.filter((a) => !known.some((k) => k.id === a.id))];
        const same = next.length === this.pending.length && next.every((a, i) => a.id === this.pending[i].id);
        for (const a of next) if (!this.arrivedAt.has(a.id)) this.arrivedAt.set(a.id, mark);
        if (same) return;
        this.pending = next;
        this.changed();
      },
      () => {}, // no MCP on this server, or offline: the events still come
    );
  }
}

/** Seconds left until the approval is denied by itself (0 once due). */
export function secondsLeft(a: Approval, now = Date.now()) {
  return Math.max(0, Math.ceil((a.expiresAt - now) / 1000));
}

/** "4:05" */
export function clock(seconds: number) {
  const m = Math.floor(seconds / 60);
  return `${m}:${String(seconds % 60).padStart(2, "0")}`;
}

// AI jobs over the notebook's socket (capability "ai"): each request carries a fresh `jobId`, and the
// server's `ai:started` / `ai:delta` / `ai:step` / `ai:done` / `ai:failed` are routed to its job by that id.
// The server cancels a job when its connection closes, so a job running when the socket drops is failed
// here at once ("connection lost"); should its frame still reach the server later (it was queued), the
// job's first event is answered with `ai:stop`. Tool calls (`ai:tool_call` / `ai:tool_result`) become the
// job's `tools`, each "waiting" while an approval of the same job and tool is pending (`approvalsChanged`).
import { newId, type Conn, type Handler } from "../ws";
import {
  ClientEvent,
  ServerEvent,
  type AiDone,
  type AiKind,
  type AiStarted,
  type AiStep,
  type AiToolCall,
  type AiToolResult,
  type Approval,
  type ClientPayload,
  type ErrorPayload,
} from "../wire";
import { CONNECTION_LOST, OFFLINE, type AiError } from "./errors";

/** What the job client needs of the page's socket (ws.ts `Socket`; tests give one over a fake server). */
export type AiIo = {
  subscribe(topic: string, h: Handler): () => void;
  send<E extends ClientEvent>(
    topic: string,
    event: E,
    payload: ClientPayload<E> & { requestId: string },
  ): void;
  onState?(f: (c: Conn) => void): () => void;
};

export type AiRequest =
  | { kind: "edit"; cellId: string; prompt: string }
  | { kind: "fix"; cellId: string; diagnostics?: string; output?: string; maxSteps?: number }
  | { kind: "cells"; insertIdx: number; query: string };

export type JobStatus = "sending" | "streaming" | "stopping" | "done" | "failed";

/** A tool call's card: `waiting` for approval, `running`, then how it ended. */
export type ToolCallState = "waiting" | "running" | AiToolResult["status"];
export type ToolCall = {
  callId: string;
  step: number;
  /** `server__tool`, as the model was offered it. */
  tool: string;
  arguments: unknown;
  status: ToolCallState;
  result?: AiToolResult["result"];
  durationMs?: number;
};

/** The name the model is offered a server's tool under: `server__tool`, each part cut to the providers'
 * alphabet (`[A-Za-z0-9-]`, anything else `_`), at most 64 characters (as the server makes it). */
export function modelName(server: string, tool: string) {
  const clean = (s: string) => Array.from(s, (c) => (/^[A-Za-z0-9-]$/.test(c) ? c : "_")).join("");
  return `${clean(server)}__${clean(tool)}`.slice(0, 64);
}

/** `server__tool` → its server and tool (the first `__` splits: server names have none). */
export function splitTool(name: string): { server: string; tool: string } {
  const i = name.indexOf("__");
  return i < 0 ? { server: "", tool: name } : { server: name.slice(0, i), tool: name.slice(i + 2) };
}

export type AiJob = {
  id: string;
  kind: AiKind;
  request: AiRequest;
  status: JobStatus;
  /** From `ai:started`: exactly what was sent to the provider. */
  prompt?: { system: string; user: string };
  provider?: string;
  model?: string;
  /** The streamed text of each attempt (index `step - 1`; one entry but for a fix). */
  texts: string[];
  steps: AiStep[];
  /** The tool calls the model made, in order. */
  tools: ToolCall[];
  result?: AiDone;
  error?: AiError;
  /** The request's id (an `error` refusing it names it). */
  requestId?: string;
};

export { CONNECTION_LOST, describeError, OFFLINE, waitLeft, type AiError } from "./errors";

const running = (j: AiJob) => j.status === "sending" || j.status === "streaming" || j.status === "stopping";

export class AiJobs {
  jobs = new Map<string, AiJob>();
  private byRequest = new Map<string, string>();
  /** Jobs failed here (connection lost) that the server may yet start: stopped if it does. */
  private abandoned = new Set<string>();
  private listeners = new Map<string, Set<() => void>>();
  private conn: Conn = "connecting";
  private off: (() => void)[] = [];
  /** The approvals pending now (from the page's approval queue). */
  private pending: Approval[] = [];

  constructor(
    private io: AiIo,
    private topic: string,
  ) {
    this.off.push(io.subscribe(topic, (e, p) => this.onEvent(e, p)));
    if (io.onState) this.off.push(io.onState((c) => this.onConn(c)));
  }

  /** Stop what still runs (the page is closing the notebook) and let go of the socket. */
  dispose() {
    for (const j of this.jobs.values()) if (running(j)) this.stop(j.id);
    this.off.forEach((f) => f());
    this.off = [];
  }

  get(id: string) {
    return this.jobs.get(id);
  }

  /** Called on every change of the job (its events, a stop, a failure). */
  watch(id: string, f: () => void) {
    let s = this.listeners.get(id);
    if (!s) this.listeners.set(id, (s = new Set()));
    s.add(f);
    return () => void s!.delete(f);
  }

  start(request: AiRequest): AiJob {
    const id = newId("ai");
    const job: AiJob = {
      id,
      kind: request.kind,
      request,
      status: "sending",
      texts: [],
      steps: [],
      tools: [],
    };
    this.jobs.set(id, job);
    if (this.conn === "offline") {
      this.fail(job, { code: OFFLINE, message: "Not connected to the server: try again once it is back" });
      return job;
    }
    const requestId = newId();
    job.requestId = requestId;
    this.byRequest.set(requestId, id);
    const t = this.topic;
    if (request.kind === "edit") {
      const { cellId, prompt } = request;
      this.io.send(t, ClientEvent.aiGenerate, { jobId: id, cellId, prompt, requestId });
    } else if (request.kind === "fix") {
      const { kind: _k, ...rest } = request;
      this.io.send(t, ClientEvent.aiFix, { jobId: id, ...rest, requestId });
    } else {
      const { insertIdx, query } = request;
      this.io.send(t, ClientEvent.aiGenerateCells, { jobId: id, insertIdx, query, requestId });
    }
    return job;
  }

  /** Ask the server to stop the job; it answers `ai:failed {code: "ai_stopped"}`. */
  stop(id: string) {
    const j = this.jobs.get(id);
    if (!j || !running(j) || j.status === "stopping") return;
    j.status = "stopping";
    this.io.send(this.topic, ClientEvent.aiStop, { jobId: id, requestId: newId() });
    this.notify(j);
  }

  /** Forget a finished job (its panel closed). */
  drop(id: string) {
    const j = this.jobs.get(id);
    if (j && running(j)) this.stop(id);
    this.jobs.delete(id);
    this.listeners.delete(id);
  }

  /** The pending approvals changed: the calls they hold show "waiting", the others "running". */
  approvalsChanged(pending: Approval[]) {
    this.pending = pending;
    for (const j of this.jobs.values()) if (this.markWaiting(j)) this.notify(j);
  }

  /** Whether a call of the job changed between waiting and running. */
  private markWaiting(j: AiJob) {
    let changed = false;
    // A job may call the same tool twice in a step: each pending approval holds one call, in order.
    const left = this.pending.filter((a) => a.jobId === j.id);
    const next = j.tools.map((c) => {
      if (c.status !== "waiting" && c.status !== "running") return c;
      const i = left.findIndex((a) => modelName(a.server, a.tool) === c.tool);
      const status = i >= 0 ? "waiting" : "running";
      if (i >= 0) left.splice(i, 1);
      if (status === c.status) return c;
      changed = true;
      return { ...c, status } as ToolCall;
    });
    if (changed) j.tools = next;
    return changed;
  }

  private onConn(c: Conn) {
    this.conn = c;
    if (c !== "offline") return;
    for (const j of this.jobs.values())
      if (running(j)) {
        this.abandoned.add(j.id);
        this.fail(j, {
          code: CONNECTION_LOST,
          message: "Connection lost: the server stopped this job. Try again once it is back",
        });
      }
  }

  private fail(j: AiJob, e: AiError) {
    if (j.requestId) this.byRequest.delete(j.requestId);
    j.status = "failed";
    j.error = { ...e, at: Date.now() };
    this.notify(j);
  }

  private notify(j: AiJob) {
    this.listeners.get(j.id)?.forEach((f) => f());
  }

  private onEvent(event: string, p: any) {
    if (event === ServerEvent.error) return this.onError(p as ErrorPayload);
    if (!event.startsWith("ai:") || typeof p?.jobId !== "string") return;
    const id: string = p.jobId;
    if (this.abandoned.has(id)) {
      // The job reached the server on a later connection: nobody is waiting for it.
      this.abandoned.delete(id);
      if (event !== ServerEvent.aiDone && event !== ServerEvent.aiFailed)
        this.io.send(this.topic, ClientEvent.aiStop, { jobId: id, requestId: newId() });
      return;
    }
    const j = this.jobs.get(id);
    if (!j || !running(j)) return;
    switch (event) {
      case ServerEvent.aiStarted: {
        const s = p as AiStarted;
        if (j.status === "sending") j.status = "streaming";
        j.prompt = s.prompt;
        j.provider = s.provider;
        j.model = s.model;
        break;
      }
      case ServerEvent.aiDelta: {
        const i = Math.max(0, (Number(p.step) || 1) - 1);
        while (j.texts.length <= i) j.texts.push("");
        j.texts[i] += String(p.text ?? "");
        if (j.status === "sending") j.status = "streaming";
        break;
      }
      case ServerEvent.aiStep:
        j.steps = [...j.steps, p as AiStep];
        break;
      case ServerEvent.aiToolCall: {
        const c = p as AiToolCall;
        if (typeof c.callId !== "string" || j.tools.some((t) => t.callId === c.callId)) return;
        const call = { callId: c.callId, step: Number(c.step) || 1, tool: String(c.tool ?? "") };
        j.tools = [...j.tools, { ...call, arguments: c.arguments, status: "running" }];
        this.markWaiting(j);
        if (j.status === "sending") j.status = "streaming";
        break;
      }
      case ServerEvent.aiToolResult: {
        const r = p as AiToolResult;
        const known = ["done", "error", "denied", "failed"];
        const status = known.includes(r.status) ? r.status : "failed";
        if (!j.tools.some((t) => t.callId === r.callId)) return;
        j.tools = j.tools.map((t) =>
          t.callId === r.callId ? { ...t, status, result: r.result, durationMs: r.durationMs } : t,
        );
        break;
      }
      case ServerEvent.aiDone:
        j.status = "done";
        j.result = p as AiDone;
        if (j.requestId) this.byRequest.delete(j.requestId);
        break;
      case ServerEvent.aiFailed:
        return this.fail(j, {
          code: String(p.code ?? "ai_failed"),
          message: String(p.message ?? "The AI request failed"),
          retryAfterMs: typeof p.retryAfterMs === "number" ? p.retryAfterMs : undefined,
        });
      default:
        return;
    }
    this.notify(j);
  }

  /** A refused request (`invalid_payload`, `not_implemented`, `capability_required` …), by its requestId. */
  private onError(p: ErrorPayload) {
    const id = p?.requestId ? this.byRequest.get(p.requestId) : undefined;
    if (!id) return;
    this.byRequest.delete(p.requestId!);
    const j = this.jobs.get(id);
    if (j && running(j)) this.fail(j, { code: p.code, message: p.message });
  }
}

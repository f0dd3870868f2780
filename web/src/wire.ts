// The wire, in one place: every WebSocket event name and payload the UI sends or receives, and every HTTP
// response body it reads (docs/protocol.md). Event name strings appear in this module only: the others use
// `ClientEvent.*` and `ServerEvent.*`. Payloads from the server are typed, not checked: handlers stay
// defensive about fields an older (or Srcbook) server may leave out.

// ---- HTTP: the Srcbook-compatible API -------------------------------------------------------------------

export type Language = "typescript" | "javascript";
export type Status = "idle" | "running" | "failed";
export type TitleCell = { id: string; type: "title"; text: string };
export type MarkdownCell = { id: string; type: "markdown"; text: string };
export type PackageJsonCell = {
  id: string;
  type: "package.json";
  source: string;
  filename: string;
  status: Status;
};
export type CodeCell = {
  id: string;
  type: "code";
  source: string;
  language: Language;
  filename: string;
  status: Status;
  exitCode?: number | null;
  signal?: string | null;
  durationMs?: number;
};
export type Cell = TitleCell | MarkdownCell | PackageJsonCell | CodeCell;
export type Session = {
  id: string;
  cells: Cell[];
  language: Language;
  openedAt: number;
  "tsconfig.json"?: string;
};
export type Example = {
  id: string;
  path: string;
  title: string;
  language: Language;
  description: string;
  tags: string[];
};
export type Secret = { name: string; value: string; associatedWithSessionIds: string[] };
export type Settings = Record<string, unknown>;
/** `POST /api/srcbooks`. */
export type Created = { name: string; path: string; id: string };
/** `POST /api/import`. */
export type Imported = { dir: string; id: string };
/** `POST /api/file`. */
export type SourceFile = { content: string; filename: string; type: "cell" | "filepath" };
/** `POST /api/sessions/:id/files`: where the notebook's cells read the attached file. */
export type Attached = { path: string };
/** Srcbook's envelope around most answers. */
export type Result<T> = { result: T };
/** A failure's body: `{error: true, code, message, result}` (FileDB's routes say `{error: "…"}`). */
export type ErrorBody = {
  error?: boolean | string;
  code?: string;
  message?: string;
  result?: unknown;
  /** The field a validation error is about. */
  attribute?: string;
  /** Details: for an MCP server config, `attribute` (the first wrong field's path) and every error. */
  context?: { attribute?: string | null; errors?: { path: string; code: string; message: string }[] };
};

/** `GET /api/admin/stats`: the dashboard's live figures. */
export type AdminStats = {
  timestamp: number;
  version: string;
  uptimeSeconds: number;
  requests: { perSecond10s: number; perSecond60s: number; last60s: number; total: number };
  latencyMs: { p50: number | null; p95: number | null; p99: number | null; max: number | null };
  errors: { clientLast60s: number; serverLast60s: number; clientTotal: number; serverTotal: number };
  series: { requests: number[]; p95Ms: (number | null)[] };
  runtime: { activeRuns: number; nodeHosts: number; languageServices: number };
  websocket: { connections: number };
  storage: {
    files: number | null;
    fileBytes: number | null;
    chunks: number | null;
    chunkBytes: number | null;
    notebooks: number;
    notebooksFailed: number;
    diskFreeBytes: number | null;
    diskLowBytes: number;
  };
  process: { rssBytes: number | null; openFds: number | null };
  ai: { breakers: AiBreaker[]; usage: AiUsage[] };
};
/** A provider endpoint's circuit breaker (`state` is `closed`, `open` or `half_open`). */
export type AiBreaker = {
  provider: string;
  baseUrl: string;
  state: "closed" | "open" | "half_open";
  consecutiveFailures: number;
  retryInMs: number | null;
};
/** One provider and model's totals since the server started. */
export type AiUsage = {
  provider: string;
  model: string;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  firstTokenMsP50: number | null;
};

// ---- HTTP: the FileDB-compatible file store (at the server root) ----------------------------------------

/** A row of `GET /files/by-owner/:owner`. */
export type StoredFile = {
  file_id: string;
  original_filename: string;
  content_type?: string;
  total_size: number;
  created_at: string;
  owner?: string;
  user_id?: string;
  user_email?: string | null;
};
export type FileList = { files: StoredFile[] };
/** `GET /files/:id/info`. */
export type FileInfo = {
  expires_at: string | null;
  content_type: string;
  user_id?: string;
  user_email?: string | null;
};
/** `GET /quota`. */
export type Quota = {
  used_bytes: number;
  max_bytes: number;
  uploads_today: number;
  max_uploads_per_day: number;
  usage_percentage: string;
  unlimited?: boolean;
};

// ---- WebSocket: frames ----------------------------------------------------------------------------------

/** Every frame, both ways: `[topic, event, payload]`. A notebook's topic is `session:<id>`. */
export type Frame = [topic: string, event: string, payload: unknown];
export const sessionTopic = (id: string) => `session:${id}`;
/** What this UI asks to receive (`subscribe {capabilities}`): `error` events, other tabs' cell changes,
 * the language-service additions, AI jobs (`ai:started` … `ai:done`, by `jobId`), and MCP tool-call
 * approvals (`mcp:approval`). */
export const CAPABILITIES = ["errors", "cells", "tsserver", "ai", "mcp"];

export type Updates = { text: string } | { source: string };
export type Output = { type: "stdout" | "stderr"; data: string };
/** 1-based line; `offset` 0-based in requests, 1-based in diagnostics (as tsserver and Srcbook have it). */
export type Location = { line: number; offset: number };
export type Diagnostic = { code: number; category: string; text: string; start: Location; end: Location };

// ---- WebSocket: client → server -------------------------------------------------------------------------

export const ClientEvent = {
  subscribe: "subscribe",
  unsubscribe: "unsubscribe",
  /** Answered `pong` once every earlier frame of the connection has been applied. */
  ping: "ping",
  cellCreate: "cell:create",
  cellUpdate: "cell:update",
  cellRename: "cell:rename",
  cellDelete: "cell:delete",
  cellMove: "cell:move",
  cellExec: "cell:exec",
  cellStop: "cell:stop",
  cellFormat: "cell:format",
  depsInstall: "deps:install",
  depsValidate: "deps:validate",
  tsconfigUpdate: "tsconfig.json:update",
  tsserverStart: "tsserver:start",
  quickinfo: "tsserver:cell:quickinfo:request",
  completions: "tsserver:cell:completions:request",
  signatureHelp: "tsserver:cell:signature_help:request",
  definition: "tsserver:cell:definition_location:request",
  aiGenerate: "ai:generate",
  aiFix: "ai:fix_diagnostics",
  aiGenerateCells: "ai:generate_cells",
  aiStop: "ai:stop",
  mcpApprove: "mcp:approve",
} as const;
export type ClientEvent = (typeof ClientEvent)[keyof typeof ClientEvent];

type CellRef = { cellId: string };
/** A client-chosen id (1–64 chars) naming one AI job: every `ai:*` event of the job carries it. */
export type AiJobRef = { jobId: string };
/** A language-service request about the position `location` of a cell. */
export type LsRequest = CellRef & { request: { location: Location } };

/** Each client event's payload; any of them may also carry a `requestId` (echoed on replies and errors). */
export type ClientPayloads = {
  subscribe: { id: string; capabilities: string[] };
  unsubscribe: Record<string, never>;
  ping: { requestId: string };
  "cell:create": { index: number; cell: Cell };
  "cell:update": CellRef & { updates: Updates };
  "cell:rename": CellRef & { filename: string };
  "cell:delete": CellRef;
  "cell:move": CellRef & { index: number };
  "cell:exec": CellRef;
  "cell:stop": CellRef;
  "cell:format": CellRef;
  "deps:install": { packages?: string[] };
  "deps:validate": Record<string, never>;
  "tsconfig.json:update": { source: string };
  "tsserver:start": Record<string, never>;
  "tsserver:cell:quickinfo:request": LsRequest;
  "tsserver:cell:completions:request": LsRequest;
  "tsserver:cell:signature_help:request": LsRequest;
  "tsserver:cell:definition_location:request": LsRequest;
  "ai:generate": AiJobRef & CellRef & { prompt: string };
  /** `diagnostics` and `output`: what the page shows for the cell (the server adds its own diagnostics). */
  "ai:fix_diagnostics": AiJobRef & CellRef & { diagnostics?: string; output?: string; maxSteps?: number };
  "ai:generate_cells": AiJobRef & { insertIdx: number; query: string };
  "ai:stop": AiJobRef;
  "mcp:approve": McpAnswer & { id: string };
};
export type ClientPayload<E extends ClientEvent> = ClientPayloads[E];

// ---- WebSocket: language-service replies (`…:response {response, requestId, cellId?}`) ----------------

/** tsserver's display text: a string, or display parts. */
export type DisplayText = string | { text: string }[] | undefined;
export type QuickInfo = { displayString: string; documentation?: DisplayText };
/** With the `tsserver` capability, the entries matching the word being typed carry `details`. */
export type CompletionEntry = {
  name: string;
  kind: string;
  kindModifiers?: string;
  details?: { signature?: DisplayText; documentation?: DisplayText; source?: string };
  detail?: DisplayText;
  source?: string;
  sourceDisplay?: DisplayText;
};
export type Completions = { entries: CompletionEntry[] };
export type SignatureHelpItems = {
  items: {
    prefixDisplayParts: { text: string }[];
    suffixDisplayParts: { text: string }[];
    separatorDisplayParts: { text: string }[];
    parameters: { displayParts: { text: string }[] }[];
  }[];
  selectedItemIndex: number;
  argumentIndex: number;
};
/** The first definition; `cellId` when it is in a cell of the notebook. */
export type DefinitionLocation = { file?: string; cellId?: string; start: Location };

/** What each language-service request is answered with (`null`: nothing there). */
export type LsResponses = {
  "tsserver:cell:quickinfo:request": QuickInfo | null;
  "tsserver:cell:completions:request": Completions | null;
  "tsserver:cell:signature_help:request": SignatureHelpItems | null;
  "tsserver:cell:definition_location:request": DefinitionLocation | null;
};
export type LsRequestEvent = keyof LsResponses;
export type LsReply = { requestId?: string; cellId?: string; response?: unknown };
/** Replies are named after their requests: `tsserver:cell:quickinfo:request` → `…:quickinfo:response`. */
export const isReply = (event: string) => event.endsWith(":response");

// ---- WebSocket: server → client -------------------------------------------------------------------------

export const ServerEvent = {
  subscribed: "subscribed",
  pong: "pong",
  error: "error",
  cellUpdated: "cell:updated",
  cellFormatted: "cell:formatted",
  cellCreated: "cell:created",
  cellDeleted: "cell:deleted",
  cellMoved: "cell:moved",
  cellOutput: "cell:output",
  cellError: "cell:error",
  diagnostics: "tsserver:cell:diagnostics",
  /** Received, not shown yet (unused variables and the like). */
  suggestions: "tsserver:cell:suggestions",
  tsconfigUpdated: "tsconfig.json:updated",
  depsValidateResponse: "deps:validate:response",
  tsserverError: "tsserver:error",
  aiStarted: "ai:started",
  aiDelta: "ai:delta",
  aiStep: "ai:step",
  aiDone: "ai:done",
  aiFailed: "ai:failed",
  aiToolCall: "ai:tool_call",
  aiToolResult: "ai:tool_result",
  mcpApproval: "mcp:approval",
  mcpApprovalResolved: "mcp:approval:resolved",
} as const;
export type ServerEvent = (typeof ServerEvent)[keyof typeof ServerEvent];

/** `error`: a refused request or a bad frame, to that connection only. `event` names the event it answers
 * (newer servers); `requestId` is the request's. */
export type ErrorPayload = { code: string; message: string; requestId?: string; event?: string };
/** After an edit or rename; after a run (or an install) with its outcome beside the cell too. */
export type CellUpdated = {
  cell: Cell;
  exitCode?: number | null;
  signal?: string | null;
  durationMs?: number;
  timedOut?: boolean;
};

export type ServerPayloads = {
  subscribed: { id: string };
  pong: { requestId: string };
  error: ErrorPayload;
  "cell:updated": CellUpdated;
  "cell:formatted": CellRef & { cell: Cell };
  "cell:created": { index: number; cell: Cell };
  "cell:deleted": CellRef;
  "cell:moved": CellRef & { index: number };
  "cell:output": CellRef & { output: Output };
  /** Srcbook's refusal of an edit (before its rollback), or a failed format (`attribute: "formatting"`). */
  "cell:error": CellRef & { errors?: { message: string; attribute?: string }[] };
  "tsserver:cell:diagnostics": CellRef & { diagnostics?: Diagnostic[] };
  "tsserver:cell:suggestions": CellRef & { diagnostics?: Diagnostic[] };
  "tsconfig.json:updated": { source: string };
  /** `{packages}`: imported but not declared; `{}` (Srcbook) or `{notInstalled}` (Quire): declared but not
   * installed. */
  "deps:validate:response": { packages?: string[]; notInstalled?: string[] };
  "tsserver:error": { code: string; message?: string };
  "ai:started": AiStarted;
  "ai:delta": AiJobRef & { step?: number; text: string };
  "ai:step": AiStep;
  "ai:done": AiDone;
  "ai:failed": AiFailed;
  "ai:tool_call": AiToolCall;
  "ai:tool_result": AiToolResult;
  "mcp:approval": Approval;
  "mcp:approval:resolved": ApprovalResolved;
};
export type ServerPayload<E extends ServerEvent> = ServerPayloads[E];

// ---- AI (capability "ai"): one job's events, to the asking connection only -------------------------------

export type AiKind = "edit" | "fix" | "cells";
/** Exactly what is sent to the provider, for the user to see. */
export type AiStarted = AiJobRef & {
  kind: AiKind;
  cellId?: string;
  prompt?: { system: string; user: string };
  provider?: string;
  model?: string;
};
/** A fix attempt, checked by the language service and run on a scratch copy (the cell is untouched). */
export type AiStep = AiJobRef & {
  step: number;
  maxSteps: number;
  code: string;
  diagnostics: string[];
  output: string;
  exitCode: number | null;
  ok: boolean;
};
/** `output`: the proposed code (edit, fix); `cells`: the proposed cells, not yet in the notebook. `ok: false`:
 * a fix that used every step without passing (`output` is its last proposal). */
export type AiDone = AiJobRef & {
  cellId?: string;
  output?: string;
  cells?: Cell[];
  steps?: number;
  ok?: boolean;
  usage?: { inputTokens?: number | null; outputTokens?: number | null };
  firstTokenMs?: number;
};
/** `code`: an `ai_*` code (`ai_stopped` after `ai:stop`); `retryAfterMs` for `ai_rate_limited`, `ai_breaker_open`. */
export type AiFailed = AiJobRef & { code: string; message: string; retryAfterMs?: number };

/** The model asked for a tool (`tool` is `server__tool`); the call waits for its approval, then runs. */
export type AiToolCall = AiJobRef & { step: number; callId: string; tool: string; arguments: unknown };
export type ToolCallStatus = "done" | "error" | "denied" | "failed";
/** A tool call ended: `error` (the tool said so), `denied` (not approved), `failed` (could not run). */
export type AiToolResult = AiJobRef & {
  callId: string;
  status: ToolCallStatus;
  result: ToolResult | { code: string; message: string };
  durationMs: number;
};

// ---- MCP (docs: the MCP contract): the user's MCP servers, tool results and the approval gate -----------

export type McpTool = { name: string; title?: string; description?: string; inputSchema: object };
export type McpState = "idle" | "connecting" | "ready" | "failed";
/** A configured MCP server as the server shows it: secret values never leave it (`envKeys`, `headerKeys`). */
export type McpServerView = {
  name: string;
  transport: "stdio" | "http";
  command?: string;
  args?: string[];
  cwd?: string;
  url?: string;
  envKeys: string[];
  headerKeys: string[];
  disabled: boolean;
  timeoutMs?: number;
  state: McpState;
  /** With `failed`: the reason (the stderr tail included). */
  error?: string;
  serverInfo?: { name: string; version: string };
  protocolVersion?: string;
  tools: McpTool[];
  resources: number;
  prompts: { name: string; description?: string }[];
};
/** "Always allow this tool". */
export type AllowRule = { server: string; tool: string };
/** A problem of `DATA_DIR/mcp.json` (edited by hand): the file is not used until it is fixed. */
export type McpConfigProblem = { path: string; code: string; message: string };
/** `GET /api/mcp/servers`. */
export type McpServers = { servers: McpServerView[]; rules: AllowRule[]; problems?: McpConfigProblem[] };
/** `PUT /api/mcp/servers/:name`: in `env` / `headers` a null value keeps the stored one. */
export type McpServerConfig =
  | {
      command: string;
      args?: string[];
      env?: Record<string, string | null>;
      cwd?: string;
      disabled?: boolean;
      timeoutMs?: number;
    }
  | { url: string; headers?: Record<string, string | null>; disabled?: boolean; timeoutMs?: number };

export type ContentPart =
  | { type: "text"; text: string }
  | { type: "image"; mimeType: string; data: string }
  | { type: "audio"; mimeType: string; data: string }
  | { type: "resource"; uri: string; mimeType?: string; text?: string; blob?: string }
  | { type: "resource_link"; uri: string; name?: string; mimeType?: string; description?: string };
export type ToolResult = { content: ContentPart[]; structuredContent?: unknown; isError: boolean };

/** A tool call held by the gate until a client answers it (`expiresAt`: ms since the epoch). */
export type Approval = {
  id: string;
  notebookId?: string;
  jobId?: string;
  server: string;
  tool: string;
  arguments: object;
  source: "ai" | "rest";
  expiresAt: number;
};
export type McpAnswer = { decision: "allow" | "deny"; always?: boolean };
export type ApprovalOutcome = "allowed" | "denied" | "timeout" | "cancelled";
export type ApprovalResolved = { id: string; outcome: ApprovalOutcome; by?: string };

// ---- HTTP: AI routes ------------------------------------------------------------------------------------

/** `GET /api/ai/healthcheck`. */
export type AiHealth = { result: string; model?: string; url?: string; firstTokenMs?: number };
/** `GET /api/ai/models`. */
export type AiModels = { result: { id: string; name?: string | null; ownedBy?: string }[]; baseUrl?: string };
/** A line of `POST /api/generate` with `Accept: application/x-ndjson`. */
export type GenerateLine =
  { delta: string } | { dir: string; id: string } | { error: { code: string; message: string } };

/** The event an `error` answers: its `event` field, or, from servers before it, the name quoted in a
 * `not_implemented` message ("'cell:exec' is not implemented"). */
export function refusedEvent(p: ErrorPayload): string | undefined {
  if (typeof p.event === "string" && p.event) return p.event;
  if (p.code !== "not_implemented") return undefined;
  return /'([a-z:._-]+)'/i.exec(p.message ?? "")?.[1];
}

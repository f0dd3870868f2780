// HTTP client: every request the UI makes goes through here (Quire's Srcbook-compatible API under /api, the
// FileDB-compatible file store at the root). A 401 anywhere sends the app to the login page. Response
// types are in wire.ts.
import type {
  AdminStats,
  AiHealth,
  AiModels,
  Attached,
  Created,
  ErrorBody,
  Example,
  FileInfo,
  FileList,
  Imported,
  Language,
  McpAnswer,
  McpServerConfig,
  McpServers,
  McpServerView,
  Approval,
  AllowRule,
  ToolResult,
  Quota,
  Result,
  Secret,
  Session,
  Settings,
  SourceFile,
} from "./wire";

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    /** The field a validation error is about (a path such as `env.TOKEN`), when the server names one. */
    public attribute?: string,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};
/** The app's reaction to a 401 (the login page); for requests made outside `request`. */
export const unauthorized = () => onUnauthorized();
export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "offline", "The server cannot be reached");
  }
  if (resp.status === 401) onUnauthorized();
  if (resp.status === 204) return undefined as T;
  const type = resp.headers.get("content-type") ?? "";
  if (!type.includes("json")) {
    if (!resp.ok) throw new ApiError(resp.status, "http_" + resp.status, resp.statusText);
    // A non-API GET falls back to the SPA page: the route does not exist in this build.
    throw new ApiError(404, "not_implemented", "Not available in this build");
  }
  const json: ErrorBody = await resp.json();
  if (!resp.ok || json.error === true) {
    const msg =
      json.message ?? (typeof json.error === "string" ? json.error : json.result) ?? resp.statusText;
    // The field a refusal names: `attribute`, or `context.attribute` (MCP server configs).
    const named = json.attribute ?? json.context?.attribute;
    const attr = typeof named === "string" ? named : undefined;
    throw new ApiError(resp.status, json.code ?? "error", String(msg), attr);
  }
  return json as T;
}

const result = async <T>(p: Promise<Result<T>>) => (await p).result;
const enc = encodeURIComponent;

export const api = {
  sessions: () => result(request<Result<Session[]>>("GET", "/api/sessions")),
  session: (id: string) => result(request<Result<Session>>("GET", `/api/sessions/${enc(id)}`)),
  openSession: (path: string) => result(request<Result<Session>>("POST", "/api/sessions", { path })),
  create: (name: string, language: Language) =>
    result(request<Result<Created>>("POST", "/api/srcbooks", { name, language })),
  remove: (id: string) => request("DELETE", `/api/srcbooks/${enc(id)}`),
  importDoc: (body: { text: string } | { url: string } | { path: string }) =>
    result(request<Result<Imported>>("POST", "/api/import", body)),
  examples: () => result(request<Result<Example[]>>("GET", "/api/examples")),
  settings: () => result(request<Result<Settings>>("GET", "/api/settings")),
  saveSettings: (patch: Settings) => request("POST", "/api/settings", patch),
  secrets: () => result(request<Result<Secret[]>>("GET", "/api/secrets")),
  putSecret: (name: string, value: string) => request("POST", "/api/secrets", { name, value }),
  renameSecret: (previousName: string, name: string, value: string) =>
    request("POST", `/api/secrets/${enc(previousName)}`, { name, value, previousName }),
  deleteSecret: (name: string) => request("DELETE", `/api/secrets/${enc(name)}`),
  linkSecret: (session: string, name: string, on: boolean) =>
    request(on ? "PUT" : "DELETE", `/api/sessions/${enc(session)}/secrets/${enc(name)}`),
  file: (file: string) => result(request<Result<SourceFile>>("POST", "/api/file", { file })),
  adminStats: () => request<AdminStats>("GET", "/api/admin/stats"),
  /** Copy a stored file into the notebook's files/ directory. */
  attachFile: (notebookId: string, fileId: string) =>
    result(request<Result<Attached>>("POST", `/api/sessions/${enc(notebookId)}/files`, { file_id: fileId })),
  // The file store (FileDB's API).
  filesByOwner: (owner: string) => request<FileList>("GET", `/files/by-owner/${enc(owner)}`),
  fileInfo: (fileId: string) => request<FileInfo>("GET", `/files/${enc(fileId)}/info`),
  deleteFile: (fileId: string) => request("DELETE", `/files/${enc(fileId)}`),
  quota: () => request<Quota>("GET", "/quota"),
  // AI with the user's own provider.
  aiHealthcheck: () => request<AiHealth>("GET", "/api/ai/healthcheck"),
  aiModels: () => request<AiModels>("GET", "/api/ai/models"),
  // The user's MCP servers and the approval gate (answers in the `{error: false, result}` envelope).
  mcpServers: () => result(request<Result<McpServers>>("GET", "/api/mcp/servers")),
  mcpPut: (name: string, config: McpServerConfig) =>
    result(request<Result<McpServerView>>("PUT", `/api/mcp/servers/${enc(name)}`, config)),
  mcpRemove: (name: string) => request("DELETE", `/api/mcp/servers/${enc(name)}`),
  mcpReconnect: (name: string) =>
    result(request<Result<McpServerView>>("POST", `/api/mcp/servers/${enc(name)}/reconnect`)),
  mcpPasteConfig: (config: { mcpServers: Record<string, unknown> }) =>
    result(request<Result<{ servers: McpServerView[] }>>("POST", "/api/mcp/config", config)),
  mcpCall: (server: string, tool: string, args: object, notebookId?: string) =>
    result(
      request<Result<ToolResult>>("POST", `/api/mcp/servers/${enc(server)}/tools/${enc(tool)}/call`, {
        arguments: args,
        ...(notebookId ? { notebookId } : {}),
      }),
    ),
  mcpApprovals: () => result(request<Result<Approval[]>>("GET", "/api/mcp/approvals")),
  mcpAnswer: (id: string, answer: McpAnswer) => request("POST", `/api/mcp/approvals/${enc(id)}`, answer),
  mcpRemoveRule: (rule: AllowRule) => request("DELETE", "/api/mcp/rules", rule),
};

/** Where links and the upload client go (not fetched by this module). */
export const urls = {
  /** tus uploads (tus-js-client makes the requests). */
  uploads: "/uploads/",
  download: (fileId: string) => `/files/${enc(fileId)}`,
  exportText: (notebookId: string) => `/api/sessions/${enc(notebookId)}/export-text`,
};

/**
 * Whether an access token is good, asked with the token alone (no cookie), so that the login form can say
 * why it is refused: the HTTP status, and `Retry-After` (seconds) on a 429.
 */
export async function checkToken(
  token: string,
): Promise<{ ok: boolean; status: number; retryAfter: number | null }> {
  let r: Response;
  try {
    r = await fetch("/api/settings", { headers: { authorization: `Bearer ${token}` }, credentials: "omit" });
  } catch {
    throw new ApiError(0, "offline", "The server cannot be reached");
  }
  const retry = r.headers.get("retry-after");
  return { ok: r.ok, status: r.status, retryAfter: retry === null ? null : Number(retry) };
}

// The notebook route starts loading its session while its code chunk is still downloading.
const prefetched = new Map<string, Promise<Session>>();
export function prefetchSession(id: string) {
  if (!prefetched.has(id)) prefetched.set(id, api.session(id));
}
export function takeSession(id: string): Promise<Session> {
  const p = prefetched.get(id);
  prefetched.delete(id);
  return p ?? api.session(id);
}

/** Notebook title: the first cell. */
export const titleOf = (s: Session) => (s.cells[0]?.type === "title" ? s.cells[0].text : "Untitled");

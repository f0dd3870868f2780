// HTTP client for Quire's Srcbook-compatible API. A 401 anywhere sends the app to the login page.

export type Language = "typescript" | "javascript";
export type Status = "idle" | "running" | "failed";
export type TitleCell = { id: string; type: "title"; text: string };
export type MarkdownCell = { id: string; type: "markdown"; text: string };
export type PackageJsonCell = { id: string; type: "package.json"; source: string; filename: string; status: Status };
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
export type Session = { id: string; cells: Cell[]; language: Language; openedAt: number; "tsconfig.json"?: string };
export type Example = { id: string; path: string; title: string; language: Language; description: string; tags: string[] };
export type Secret = { name: string; value: string; associatedWithSessionIds: string[] };

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};
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
  const json = await resp.json();
  if (!resp.ok || json.error === true) {
    const msg = json.message ?? (typeof json.error === "string" ? json.error : json.result) ?? resp.statusText;
    throw new ApiError(resp.status, json.code ?? "error", String(msg));
  }
  return json as T;
}

const result = async <T>(p: Promise<{ result: T }>) => (await p).result;

export const api = {
  sessions: () => result(request<{ result: Session[] }>("GET", "/api/sessions")),
  session: (id: string) => result(request<{ result: Session }>("GET", `/api/sessions/${encodeURIComponent(id)}`)),
  openSession: (path: string) => result(request<{ result: Session }>("POST", "/api/sessions", { path })),
  create: (name: string, language: Language) =>
    result(request<{ result: { name: string; path: string; id: string } }>("POST", "/api/srcbooks", { name, language })),
  remove: (id: string) => request("DELETE", `/api/srcbooks/${encodeURIComponent(id)}`),
  importDoc: (body: { text: string } | { url: string } | { path: string }) =>
    result(request<{ result: { dir: string; id: string } }>("POST", "/api/import", body)),
  examples: () => result(request<{ result: Example[] }>("GET", "/api/examples")),
  settings: () => result(request<{ result: Record<string, unknown> }>("GET", "/api/settings")),
  saveSettings: (patch: Record<string, unknown>) => request("POST", "/api/settings", patch),
  secrets: () => result(request<{ result: Secret[] }>("GET", "/api/secrets")),
  putSecret: (name: string, value: string) => request("POST", "/api/secrets", { name, value }),
  renameSecret: (previousName: string, name: string, value: string) =>
    request("POST", `/api/secrets/${encodeURIComponent(previousName)}`, { name, value, previousName }),
  deleteSecret: (name: string) => request("DELETE", `/api/secrets/${encodeURIComponent(name)}`),
  linkSecret: (session: string, name: string, on: boolean) =>
    request(on ? "PUT" : "DELETE", `/api/sessions/${encodeURIComponent(session)}/secrets/${encodeURIComponent(name)}`),
  file: (file: string) =>
    result(request<{ result: { content: string; filename: string; type: "cell" | "filepath" } }>("POST", "/api/file", { file })),
};

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

// The MCP server form's model: a draft from a server's view, the `PUT /api/mcp/servers/:name` body from a
// draft (a stored env or header row whose value was not retyped is sent as null: the server keeps its
// sealed value, which it never shows), where a validation error's `attribute` belongs, a pasted Claude
// Desktop / Cursor config, and the snippets that connect an assistant to Quire.
import type { McpServerConfig, McpServerView, McpState } from "../wire";

const STATES: McpState[] = ["idle", "connecting", "ready", "failed"];
const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

/** A server as the UI uses it, from the contract's `McpServerView` or from the MCP crate's own shapes
 * (`status: {state, error}`, `info`, `envNames`, a list of resources), whichever the server sends. */
export function viewOf(raw: any): McpServerView {
  const r = raw && typeof raw === "object" ? raw : {};
  const state = r.state ?? r.status?.state;
  const info = r.serverInfo ?? r.info;
  return {
    ...r,
    name: String(r.name ?? ""),
    transport: r.transport === "http" ? "http" : "stdio",
    args: list<string>(r.args),
    envKeys: list<string>(r.envKeys ?? r.envNames),
    headerKeys: list<string>(r.headerKeys ?? r.headerNames),
    disabled: !!r.disabled,
    state: STATES.includes(state) ? state : "idle",
    error: r.error ?? r.status?.error,
    serverInfo:
      info?.name || info?.version ? { name: info.name ?? "", version: info.version ?? "" } : undefined,
    protocolVersion: r.protocolVersion ?? info?.protocolVersion,
    tools: list<McpServerView["tools"][number]>(r.tools),
    resources: typeof r.resources === "number" ? r.resources : list(r.resources).length,
    prompts: list<McpServerView["prompts"][number]>(r.prompts),
  };
}

/** An env or header row. `stored`: the server holds a value for this key (shown empty, "unchanged"). */
export type Row = { key: string; value: string; stored: boolean };
export type Draft = {
  name: string;
  transport: "stdio" | "http";
  command: string;
  /** One argument per line. */
  args: string;
  cwd: string;
  env: Row[];
  url: string;
  headers: Row[];
  disabled: boolean;
  timeoutMs: string;
};

const storedRows = (keys: string[] | undefined): Row[] =>
  (keys ?? []).map((key) => ({ key, value: "", stored: true }));

export function draftOf(v?: McpServerView): Draft {
  return {
    name: v?.name ?? "",
    transport: v?.transport ?? "stdio",
    command: v?.command ?? "",
    args: (v?.args ?? []).join("\n"),
    cwd: v?.cwd ?? "",
    env: storedRows(v?.envKeys),
    url: v?.url ?? "",
    headers: storedRows(v?.headerKeys),
    disabled: v?.disabled ?? false,
    timeoutMs: typeof v?.timeoutMs === "number" ? String(v.timeoutMs) : "",
  };
}

/** Rows as the body's map: a stored key left empty is null (unchanged); rows without a key are dropped,
 * and a stored key the user removed is simply absent (the server forgets it). */
export function rowsOut(rows: Row[]): Record<string, string | null> | undefined {
  const out: Record<string, string | null> = {};
  for (const r of rows) {
    const key = r.key.trim();
    if (!key) continue;
    out[key] = r.stored && r.value === "" ? null : r.value;
  }
  return Object.keys(out).length ? out : undefined;
}

export function configOf(d: Draft): McpServerConfig {
  const common: { disabled?: boolean; timeoutMs?: number } = {};
  if (d.disabled) common.disabled = true;
  const t = d.timeoutMs.trim();
  if (t) common.timeoutMs = Number(t);
  if (d.transport === "http") {
    const headers = rowsOut(d.headers);
    return { url: d.url.trim(), ...(headers ? { headers } : {}), ...common };
  }
  const args = d.args.split(/\r?\n/).filter((a) => a.trim() !== "");
  const env = rowsOut(d.env);
  return {
    command: d.command.trim(),
    ...(args.length ? { args } : {}),
    ...(env ? { env } : {}),
    ...(d.cwd.trim() ? { cwd: d.cwd.trim() } : {}),
    ...common,
  };
}

export const FIELDS = ["name", "command", "args", "cwd", "env", "url", "headers", "timeoutMs", "disabled"];

/** The form field a server error's `attribute` names (`env.TOKEN` → env, `args[1]` → args,
 * `mcpServers.db.command` → command); undefined: the form as a whole. */
export function fieldOf(attribute: string | undefined): string | undefined {
  if (!attribute) return undefined;
  const parts = attribute.split(/[.[\]/]+/).filter(Boolean);
  if (parts[0] === "mcpServers") parts.splice(0, 2);
  return parts.find((p) => FIELDS.includes(p));
}

/** A pasted `{"mcpServers": {...}}` (Claude Desktop, Cursor), checked enough to say what is wrong. */
export function parsePasted(
  text: string,
): { ok: true; config: { mcpServers: Record<string, unknown> } } | { ok: false; message: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, message: `This is not JSON: ${(e as Error).message}` };
  }
  const servers = (v as { mcpServers?: unknown })?.mcpServers;
  if (!servers || typeof servers !== "object" || Array.isArray(servers))
    return { ok: false, message: 'Expected an object with "mcpServers": {"name": {...}, ...}' };
  if (!Object.keys(servers).length) return { ok: false, message: '"mcpServers" names no server' };
  return { ok: true, config: { mcpServers: servers as Record<string, unknown> } };
}

/** The data directory from the notebooks' directory (`DATA_DIR/notebooks`), when it is one. */
export function dataDirOf(baseDir: unknown): string | undefined {
  if (typeof baseDir !== "string") return undefined;
  const m = /^(.+?)[\\/]notebooks[\\/]?$/.exec(baseDir);
  return m?.[1];
}

export const TOKEN_PLACEHOLDER = "<your token>";

/** For an assistant that starts `quire mcp` itself (stdio). */
export function stdioSnippet(dataDir?: string) {
  const quire: Record<string, unknown> = { command: "quire", args: ["mcp"] };
  if (dataDir) quire.env = { QUIRE_DATA_DIR: dataDir };
  return JSON.stringify({ mcpServers: { quire } }, null, 2);
}

/** For an assistant that talks to this running server (Streamable HTTP at /mcp). */
export function httpSnippet(origin: string) {
  const quire = { url: `${origin}/mcp`, headers: { Authorization: `Bearer ${TOKEN_PLACEHOLDER}` } };
  return JSON.stringify({ mcpServers: { quire } }, null, 2);
}

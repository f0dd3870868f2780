// Settings → MCP servers: each configured server with its status (polled every 2 s while one connects),
// its tools, Reconnect / Edit / Remove; "Add server"; "Paste a config"; the "Always allowed tools" rules;
// and "Connect an assistant". Shown once the server has the MCP routes (`GET /api/mcp/servers` is not a
// 404 or 501).
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import type { AllowRule, McpServers, McpServerView } from "../wire";
import { McpServerForm } from "./McpServerForm";
import { ConnectAssistant, PasteConfig } from "./McpExtras";
import { viewOf } from "./config";

const POLL_MS = 2000;
const STATE_LABEL = { idle: "idle", connecting: "connecting…", ready: "ready", failed: "failed" };
const STATE_TONE = { idle: "muted", connecting: "running", ready: "ok", failed: "fail" };

type Load = { state: "loading" } | { state: "unsupported" } | { state: "ok"; data: McpServers };

export function McpSettings({ baseDir }: { baseDir: unknown }) {
  const [load, setLoad] = useState<Load>({ state: "loading" });
  const [editing, setEditing] = useState<string | null>(null); // a server's name, or "" for a new one
  const [reconnecting, setReconnecting] = useState<Set<string>>(new Set());
  const [msg, setMsg] = useState("");
  const [error, setError] = useState("");
  const refresh = () =>
    api.mcpServers().then(
      (data) =>
        setLoad({
          state: "ok",
          data: {
            servers: (Array.isArray(data?.servers) ? data.servers : []).map(viewOf),
            rules: Array.isArray(data?.rules) ? data.rules : [],
            problems: Array.isArray(data?.problems) ? data.problems : [],
          },
        }),
      (e: ApiError) => {
        if (e.status === 404 || e.status === 501 || e.code === "not_implemented")
          setLoad((l) => (l.state === "ok" ? l : { state: "unsupported" }));
        else setError(e.message);
      },
    );
  useEffect(() => void refresh(), []);
  const connecting = load.state === "ok" && load.data.servers.some((s) => s.state === "connecting");
  useEffect(() => {
    if (!connecting) return;
    const t = setTimeout(refresh, POLL_MS);
    return () => clearTimeout(t);
  }, [connecting, load]);
  if (load.state !== "ok")
    return load.state === "loading" && error ? (
      <section class="card stack mcp-settings" aria-labelledby="mcp-title">
        <h2 id="mcp-title">MCP servers</h2>
        <p class="error" role="alert">
          {error}
        </p>
        <div class="row">
          <button type="button" onClick={() => (setError(""), refresh())}>
            Try again
          </button>
        </div>
      </section>
    ) : null;
  const { servers, rules, problems = [] } = load.data;
  const say = (m: string) => (setError(""), setMsg(m));
  const fail = (e: unknown) => (setMsg(""), setError((e as Error).message));
  const upsert = (raw: McpServerView) => {
    const v = viewOf(raw);
    setLoad((l) => {
      if (l.state !== "ok") return l;
      const list = l.data.servers;
      const servers = list.some((s) => s.name === v.name)
        ? list.map((s) => (s.name === v.name ? v : s))
        : [...list, v];
      return { state: "ok", data: { ...l.data, servers } };
    });
    return v;
  };
  const reconnect = async (name: string) => {
    setReconnecting((r) => new Set(r).add(name));
    upsert({ ...servers.find((s) => s.name === name)!, state: "connecting", error: undefined });
    try {
      const v = upsert(await api.mcpReconnect(name));
      say(v.state === "ready" ? `${name} is connected.` : `${name}: ${v.state}.`);
    } catch (e) {
      fail(e);
      refresh();
    } finally {
      setReconnecting((r) => ((r = new Set(r)), r.delete(name), r));
    }
  };
  const remove = async (name: string) => {
    if (!confirm(`Remove the MCP server "${name}"? The AI can no longer use its tools.`)) return;
    try {
      await api.mcpRemove(name);
      say(`${name} removed.`);
      if (editing === name) setEditing(null);
      refresh();
    } catch (e) {
      fail(e);
    }
  };
  const removeRule = async (r: AllowRule) => {
    try {
      await api.mcpRemoveRule(r);
      say(`${r.tool} · ${r.server} will be asked about again.`);
      refresh();
    } catch (e) {
      fail(e);
    }
  };
  const saved = (v: McpServerView) => {
    setEditing(null);
    say(`${v.name} saved.`);
    upsert(v);
    refresh();
  };
  return (
    <section class="card stack mcp-settings" aria-labelledby="mcp-title">
      <h2 id="mcp-title">MCP servers</h2>
      <p class="meta">
        Tools of these servers are offered to the AI. Every call waits for your approval in the notebook,
        unless you always allow that tool.
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <p role="status">{msg}</p>
      {problems.length > 0 && (
        <div class="notice ai-warn" role="alert">
          <p>
            <code>mcp.json</code> in the data directory has problems: the servers below are what Quire runs
            until they are fixed.
          </p>
          <ul>
            {problems.map((x, i) => (
              <li key={i}>
                <code>{x.path}</code>: {x.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {servers.length === 0 && <p class="meta">No MCP server yet.</p>}
      <ul class="plain stack mcp-servers">
        {servers.map((s) => (
          <li key={s.name} class="mcp-server" aria-label={`MCP server ${s.name}`}>
            {editing === s.name ? (
              <McpServerForm server={s} onSaved={saved} onCancel={() => setEditing(null)} />
            ) : (
              <ServerItem
                s={s}
                busy={reconnecting.has(s.name)}
                onReconnect={() => reconnect(s.name)}
                onEdit={() => setEditing(s.name)}
                onRemove={() => remove(s.name)}
              />
            )}
          </li>
        ))}
      </ul>
      {editing === "" ? (
        <McpServerForm onSaved={saved} onCancel={() => setEditing(null)} />
      ) : (
        <div class="row">
          <button type="button" onClick={() => setEditing("")}>
            Add server
          </button>
        </div>
      )}
      <PasteConfig
        onSaved={(list) => {
          say(`Added: ${list.map((s) => s.name).join(", ") || "nothing"}.`);
          refresh();
        }}
      />
      <Rules rules={rules} onRemove={removeRule} />
      <ConnectAssistant baseDir={baseDir} />
    </section>
  );
}

function ServerItem({
  s,
  busy,
  onReconnect,
  onEdit,
  onRemove,
}: {
  s: McpServerView;
  busy: boolean;
  onReconnect: () => void;
  onEdit: () => void;
  onRemove: () => void;
}) {
  const where = s.transport === "http" ? s.url : [s.command, ...(s.args ?? [])].join(" ");
  return (
    <div class="stack tight">
      <div class="row">
        <strong>{s.name}</strong>
        <span class={`pill mcp-state ${STATE_TONE[s.state] ?? ""}`} data-state={s.state}>
          {s.disabled ? "disabled" : (STATE_LABEL[s.state] ?? s.state)}
        </span>
        {s.serverInfo && (
          <span class="meta">
            {s.serverInfo.name} {s.serverInfo.version}
            {s.protocolVersion && ` · MCP ${s.protocolVersion}`}
          </span>
        )}
        <span class="spacer" />
        <button type="button" class="small" onClick={onReconnect} disabled={busy}>
          {busy ? "Reconnecting…" : "Reconnect"}
        </button>
        <button type="button" class="small" onClick={onEdit}>
          Edit
        </button>
        <button type="button" class="small danger" onClick={onRemove}>
          Remove
        </button>
      </div>
      <code class="meta mcp-where">
        {s.transport === "http" ? "HTTP" : "stdio"}: {where}
      </code>
      {s.state === "failed" && s.error && <pre class="ai-text error mcp-error">{s.error}</pre>}
      {s.tools.length > 0 && (
        <details class="mcp-tools">
          <summary>
            {s.tools.length} tool{s.tools.length === 1 ? "" : "s"}
            {s.resources ? `, ${s.resources} resource${s.resources === 1 ? "" : "s"}` : ""}
            {s.prompts?.length ? `, ${s.prompts.length} prompt${s.prompts.length === 1 ? "" : "s"}` : ""}
          </summary>
          <ul class="mcp-tool-list">
            {s.tools.map((t) => (
              <li key={t.name}>
                <code>{t.name}</code>
                {t.title && t.title !== t.name && ` (${t.title})`}
                {t.description && <span class="meta"> — {t.description}</span>}
              </li>
            ))}
          </ul>
        </details>
      )}
      {s.state === "ready" && s.tools.length === 0 && <p class="meta">No tools.</p>}
    </div>
  );
}

function Rules({ rules, onRemove }: { rules: AllowRule[]; onRemove: (r: AllowRule) => void }) {
  return (
    <section class="stack tight" aria-labelledby="mcp-rules-title">
      <h3 id="mcp-rules-title">Always allowed tools</h3>
      {rules.length === 0 ? (
        <p class="meta">None: every tool call asks first.</p>
      ) : (
        <ul class="plain stack tight">
          {rules.map((r) => (
            <li key={`${r.server}/${r.tool}`} class="row">
              <code>
                {r.tool} · {r.server}
              </code>
              <button
                type="button"
                class="small"
                aria-label={`Remove the rule for ${r.tool} on ${r.server}`}
                onClick={() => onRemove(r)}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

// Add or edit one MCP server: a name, stdio (command, arguments one per line, environment rows) or
// Streamable HTTP (URL, header rows), and a timeout. Stored env and header values are never shown: their
// rows keep the key with an empty "unchanged" field (sent as null unless a new value is typed). The
// server's validation errors appear at the field their `attribute` names.
import { useState } from "preact/hooks";
import { api, ApiError } from "../api";
import type { McpServerView } from "../wire";
import { configOf, draftOf, fieldOf, type Draft, type Row } from "./config";

type Errors = { field?: string; message: string } | null;

export function McpServerForm({
  server,
  onSaved,
  onCancel,
}: {
  /** The server to edit; none: a new one. */
  server?: McpServerView;
  onSaved: (v: McpServerView) => void;
  onCancel: () => void;
}) {
  const [d, setD] = useState<Draft>(() => draftOf(server));
  const [error, setError] = useState<Errors>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setD((x) => ({ ...x, [k]: v }));
  const p = server ? `mcp-edit-${server.name}` : "mcp-new";
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (!d.name.trim()) return setError({ field: "name", message: "Give the server a name." });
    setBusy(true);
    try {
      onSaved(await api.mcpPut(d.name.trim(), configOf(d)));
    } catch (err) {
      const x = err as ApiError;
      setError({ field: fieldOf(x.attribute), message: x.message });
    } finally {
      setBusy(false);
    }
  };
  // A field's label, input wiring and inline error.
  const invalid = (f: string) =>
    error?.field === f ? { "aria-invalid": true as const, "aria-describedby": `${p}-${f}-err` } : {};
  const err = (f: string) =>
    error?.field === f && (
      <p class="error field-error" id={`${p}-${f}-err`} role="alert">
        {error.message}
      </p>
    );
  return (
    <form
      class="stack mcp-form"
      onSubmit={submit}
      aria-label={server ? `Edit ${server.name}` : "Add a server"}
    >
      <label for={`${p}-name`}>Name</label>
      <input
        id={`${p}-name`}
        value={d.name}
        readOnly={!!server}
        autocomplete="off"
        spellcheck={false}
        placeholder="e.g. files"
        onInput={(e) => set("name", e.currentTarget.value)}
        {...invalid("name")}
      />
      {err("name")}
      <fieldset class="row mcp-transport">
        <legend>Transport</legend>
        {(["stdio", "http"] as const).map((t) => (
          <label key={t} class="row tight">
            <input
              type="radio"
              name={`${p}-transport`}
              checked={d.transport === t}
              onChange={() => set("transport", t)}
            />
            {t === "stdio" ? "stdio (a command)" : "Streamable HTTP (a URL)"}
          </label>
        ))}
      </fieldset>
      {d.transport === "stdio" ? (
        <>
          <label for={`${p}-command`}>Command</label>
          <input
            id={`${p}-command`}
            value={d.command}
            required
            autocomplete="off"
            spellcheck={false}
            placeholder="e.g. npx"
            onInput={(e) => set("command", e.currentTarget.value)}
            {...invalid("command")}
          />
          {err("command")}
          <label for={`${p}-args`}>Arguments (one per line)</label>
          <textarea
            id={`${p}-args`}
            rows={3}
            value={d.args}
            spellcheck={false}
            placeholder={"-y\n@modelcontextprotocol/server-everything"}
            onInput={(e) => set("args", e.currentTarget.value)}
            {...invalid("args")}
          />
          {err("args")}
          <label for={`${p}-cwd`}>Working directory (optional)</label>
          <input
            id={`${p}-cwd`}
            value={d.cwd}
            autocomplete="off"
            spellcheck={false}
            placeholder="The server's default"
            onInput={(e) => set("cwd", e.currentTarget.value)}
            {...invalid("cwd")}
          />
          {err("cwd")}
          <Rows label="Environment" id={`${p}-env`} rows={d.env} onChange={(r) => set("env", r)} />
          {err("env")}
        </>
      ) : (
        <>
          <label for={`${p}-url`}>URL</label>
          <input
            id={`${p}-url`}
            type="url"
            value={d.url}
            required
            autocomplete="off"
            spellcheck={false}
            placeholder="https://example.com/mcp"
            onInput={(e) => set("url", e.currentTarget.value)}
            {...invalid("url")}
          />
          {err("url")}
          <Rows label="Headers" id={`${p}-headers`} rows={d.headers} onChange={(r) => set("headers", r)} />
          {err("headers")}
        </>
      )}
      <label for={`${p}-timeout`}>Timeout per call (ms, optional)</label>
      <input
        id={`${p}-timeout`}
        type="number"
        min={1}
        value={d.timeoutMs}
        placeholder="The server's default"
        onInput={(e) => set("timeoutMs", e.currentTarget.value)}
        {...invalid("timeoutMs")}
      />
      {err("timeoutMs")}
      <label class="row tight">
        <input
          type="checkbox"
          checked={d.disabled}
          onChange={(e) => set("disabled", e.currentTarget.checked)}
        />
        Disabled (keep the configuration, do not connect)
      </label>
      {error && !error.field && (
        <p class="error" role="alert">
          {error.message}
        </p>
      )}
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {server ? "Save server" : "Add server"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** Key/value rows (environment variables, headers): values are write-only. */
function Rows({
  label,
  id,
  rows,
  onChange,
}: {
  label: string;
  id: string;
  rows: Row[];
  onChange: (r: Row[]) => void;
}) {
  const put = (i: number, r: Partial<Row>) => onChange(rows.map((x, j) => (j === i ? { ...x, ...r } : x)));
  const one = label === "Headers" ? "Header" : "Variable";
  return (
    <fieldset class="stack tight mcp-rows" id={id}>
      <legend>{label}</legend>
      {rows.map((r, i) => (
        <div class="row" key={i}>
          <input
            aria-label={`${one} ${i + 1} name`}
            value={r.key}
            readOnly={r.stored}
            autocomplete="off"
            spellcheck={false}
            placeholder={label === "Headers" ? "Authorization" : "API_KEY"}
            onInput={(e) => put(i, { key: e.currentTarget.value })}
          />
          <input
            aria-label={`${one} ${r.key || i + 1} value`}
            type="password"
            value={r.value}
            autocomplete="new-password"
            spellcheck={false}
            placeholder={r.stored ? "unchanged" : "value"}
            onInput={(e) => put(i, { value: e.currentTarget.value })}
          />
          <button
            type="button"
            class="small"
            aria-label={`Remove ${r.key || `${one.toLowerCase()} ${i + 1}`}`}
            onClick={() => onChange(rows.filter((_, j) => j !== i))}
          >
            Remove
          </button>
        </div>
      ))}
      <div class="row">
        <button
          type="button"
          class="small"
          onClick={() => onChange([...rows, { key: "", value: "", stored: false }])}
        >
          Add {one.toLowerCase()}
        </button>
        {rows.some((r) => r.stored) && (
          <span class="meta">Stored values are sealed on the server and never shown.</span>
        )}
      </div>
    </fieldset>
  );
}

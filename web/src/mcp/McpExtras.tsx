// Settings → MCP servers, the parts around the list: paste an existing Claude Desktop / Cursor config, and
// the snippets an assistant needs to use Quire itself (`quire mcp` over stdio, or this server's /mcp).
import { useState } from "preact/hooks";
import { api, ApiError } from "../api";
import type { McpServerView } from "../wire";
import { dataDirOf, httpSnippet, parsePasted, stdioSnippet, TOKEN_PLACEHOLDER } from "./config";

export function PasteConfig({ onSaved }: { onSaved: (servers: McpServerView[]) => void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError("");
    const parsed = parsePasted(text);
    if (!parsed.ok) return setError(parsed.message);
    setBusy(true);
    try {
      const r = await api.mcpPasteConfig(parsed.config);
      setText("");
      onSaved(r?.servers ?? []);
    } catch (err) {
      const x = err as ApiError;
      setError(x.attribute ? `${x.attribute}: ${x.message}` : x.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="mcp-paste">
      <summary>Paste a config</summary>
      <form class="stack" onSubmit={submit}>
        <label for="mcp-paste">
          A Claude Desktop or Cursor config (<code>{'{"mcpServers": {…}}'}</code>): its servers are added, or
          replace the ones of the same name.
        </label>
        <textarea
          id="mcp-paste"
          rows={6}
          spellcheck={false}
          value={text}
          placeholder={'{\n  "mcpServers": {\n    "files": { "command": "npx", "args": ["-y", "…"] }\n  }\n}'}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "mcp-paste-err" : undefined}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        {error && (
          <p class="error" id="mcp-paste-err" role="alert">
            {error}
          </p>
        )}
        <div class="row">
          <button type="submit" disabled={busy || !text.trim()}>
            Add these servers
          </button>
        </div>
      </form>
    </details>
  );
}

function Snippet({ id, title, text }: { id: string; title: string; text: string }) {
  const [copied, setCopied] = useState("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied("Copied.");
    } catch {
      // No clipboard (an insecure origin, a denied permission): select it for Ctrl+C.
      const pre = document.getElementById(id);
      if (pre) getSelection()?.selectAllChildren(pre);
      setCopied("Selected: press Ctrl+C to copy.");
    }
  };
  return (
    <div class="stack tight">
      <div class="row">
        <h4 class="mcp-snippet-title">{title}</h4>
        <button type="button" class="small" onClick={copy} aria-describedby={`${id}-copied`}>
          Copy
        </button>
        <span id={`${id}-copied`} class="meta" role="status">
          {copied}
        </span>
      </div>
      <pre id={id} class="ai-text mcp-snippet" tabIndex={0} aria-label={title}>
        {text}
      </pre>
    </div>
  );
}

export function ConnectAssistant({ baseDir }: { baseDir: unknown }) {
  return (
    <section class="stack mcp-connect" aria-labelledby="mcp-connect-title">
      <h3 id="mcp-connect-title">Connect an assistant</h3>
      <p class="meta">
        To let Claude Desktop, Cursor or another MCP client create and run your notebooks, add one of these to
        its MCP config.
      </p>
      <Snippet
        id="mcp-snippet-stdio"
        title="Started by the assistant (stdio)"
        text={stdioSnippet(dataDirOf(baseDir))}
      />
      <Snippet id="mcp-snippet-http" title="This server (HTTP)" text={httpSnippet(location.origin)} />
      <p class="meta">
        Replace <code>{TOKEN_PLACEHOLDER}</code> with this server's access token: the one given with{" "}
        <code>--token</code> (or <code>QUIRE_TOKEN</code>, <code>--token-file</code>), else the{" "}
        <code>?token=</code> part of the link <code>quire serve</code> printed when it started.
      </p>
    </section>
  );
}

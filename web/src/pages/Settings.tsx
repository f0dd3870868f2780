import { useEffect, useState } from "preact/hooks";
import { api } from "../api";

const PROVIDERS = ["openai", "anthropic", "Xai", "Gemini", "openrouter", "custom"];
const KEYS: [string, string][] = [
  ["openaiKey", "OpenAI API key"],
  ["anthropicKey", "Anthropic API key"],
  ["xaiKey", "xAI API key"],
  ["geminiKey", "Gemini API key"],
  ["openrouterKey", "OpenRouter API key"],
  ["customApiKey", "Custom provider API key"],
];

export function Settings() {
  const [cfg, setCfg] = useState<Record<string, any> | null>(null);
  const [keys, setKeys] = useState<Record<string, string>>({});
  const [msg, setMsg] = useState("");
  const [error, setError] = useState("");
  const load = () => api.settings().then(setCfg, (e: Error) => setError(e.message));
  useEffect(() => {
    document.title = "Settings · Quire";
    load();
  }, []);
  if (!cfg)
    return (
      <main id="main" class="page">
        <h1>Settings</h1>
        {error ? <p class="error" role="alert">{error}</p> : <p aria-busy="true">Loading…</p>}
      </main>
    );
  const set = (k: string, v: unknown) => setCfg({ ...cfg, [k]: v });
  const save = async (e: Event) => {
    e.preventDefault();
    setMsg("");
    setError("");
    const patch: Record<string, unknown> = {
      defaultLanguage: cfg.defaultLanguage,
      aiProvider: cfg.aiProvider,
      aiModel: cfg.aiModel || null,
      aiBaseUrl: cfg.aiBaseUrl || null,
    };
    for (const [k, v] of Object.entries(keys)) if (v !== "") patch[k] = v;
    try {
      await api.saveSettings(patch);
      setKeys({});
      await load();
      setMsg("Settings saved.");
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const clearKey = async (k: string) => {
    try {
      await api.saveSettings({ [k]: null });
      await load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <main id="main" class="page">
      <h1>Settings</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {msg && <p role="status">{msg}</p>}
      <form class="card stack" onSubmit={save}>
        <label for="default-language">Default language for new notebooks</label>
        <select id="default-language" value={cfg.defaultLanguage} onChange={(e) => set("defaultLanguage", e.currentTarget.value)}>
          <option value="typescript">TypeScript</option>
          <option value="javascript">JavaScript</option>
        </select>
        <label for="ai-provider">AI provider</label>
        <select id="ai-provider" value={cfg.aiProvider} onChange={(e) => set("aiProvider", e.currentTarget.value)}>
          {PROVIDERS.map((p) => <option key={p} value={p}>{p}</option>)}
        </select>
        <label for="ai-model">AI model</label>
        <input id="ai-model" value={cfg.aiModel ?? ""} onInput={(e) => set("aiModel", e.currentTarget.value)} />
        <label for="ai-base-url">Custom provider base URL</label>
        <input id="ai-base-url" type="url" value={cfg.aiBaseUrl ?? ""} onInput={(e) => set("aiBaseUrl", e.currentTarget.value)} />
        <h2>API keys</h2>
        <p class="meta">Keys are write-only: a stored key shows as set, never in clear.</p>
        {KEYS.map(([k, label]) => (
          <div class="stack tight" key={k}>
            <label for={k}>
              {label} {cfg[k] ? <span class="pill">set</span> : <span class="pill muted">not set</span>}
            </label>
            <div class="row">
              <input
                id={k}
                type="password"
                autocomplete="off"
                placeholder={cfg[k] ? "Enter a new key to replace it" : ""}
                value={keys[k] ?? ""}
                onInput={(e) => setKeys({ ...keys, [k]: e.currentTarget.value })}
              />
              {cfg[k] && <button type="button" onClick={() => clearKey(k)} aria-label={`Remove ${label}`}>Remove</button>}
            </div>
          </div>
        ))}
        <p class="meta">Notebooks are stored in <code>{cfg.baseDir}</code>.</p>
        <button type="submit" class="primary">Save settings</button>
      </form>
    </main>
  );
}

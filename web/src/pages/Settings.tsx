import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { AiSettings, loadModels, type Health, type ModelsState } from "../ai/AiSettings";
import { aiPatch } from "../ai/settings";
import { McpSettings } from "../mcp/McpSettings";

// The AI section shows once the server has the AI routes (`GET /api/ai/models` is not a 404 or 501); the
// MCP servers section after it, likewise once the server has the MCP routes.

const aiDraft = (cfg: Record<string, any>) => ({
  aiProvider: String(cfg.aiProvider ?? "openai"),
  aiModel: typeof cfg.aiModel === "string" ? cfg.aiModel : "",
  aiBaseUrl: typeof cfg.aiBaseUrl === "string" ? cfg.aiBaseUrl : "",
  ...(typeof cfg.aiWireFormat === "string" ? { aiWireFormat: cfg.aiWireFormat } : {}),
});

export function Settings() {
  const [cfg, setCfg] = useState<Record<string, any> | null>(null);
  const [saved, setSaved] = useState<Record<string, any> | null>(null);
  const [keys, setKeys] = useState<Record<string, string>>({});
  const [models, setModels] = useState<ModelsState>({ state: "loading" });
  const [health, setHealth] = useState<Health>(null);
  const [testing, setTesting] = useState(false);
  const [msg, setMsg] = useState("");
  const [error, setError] = useState("");
  const load = () =>
    api.settings().then(
      (s) => {
        setCfg(s);
        setSaved(s);
        return s;
      },
      (e: Error) => (setError(e.message), null),
    );
  const refreshModels = (s: Record<string, any> | null) =>
    s && loadModels(String(s.aiProvider ?? "openai")).then(setModels);
  useEffect(() => {
    document.title = "Settings · Quire";
    load().then(refreshModels);
  }, []);
  if (!cfg)
    return (
      <main id="main" class="page">
        <h1>Settings</h1>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : (
          <p aria-busy="true">Loading…</p>
        )}
      </main>
    );
  const ai = models.state !== "unsupported" && models.state !== "loading";
  const set = (k: string, v: unknown) => setCfg({ ...cfg, [k]: v });
  const aiDirty =
    JSON.stringify(aiDraft(cfg)) !== JSON.stringify(aiDraft(saved ?? {})) ||
    Object.values(keys).some((v) => v.trim());
  const persist = async (patch: Record<string, unknown>) => {
    await api.saveSettings(patch);
    setKeys({});
    const s = await load();
    refreshModels(s);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setMsg("");
    setError("");
    const patch: Record<string, unknown> = { defaultLanguage: cfg.defaultLanguage };
    if (ai) Object.assign(patch, aiPatch(aiDraft(cfg), keys));
    try {
      await persist(patch);
      setMsg("Settings saved.");
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const test = async () => {
    setHealth(null);
    setError("");
    setMsg("");
    setTesting(true);
    try {
      // The server tests what it has: save the AI fields first.
      if (aiDirty) await persist(aiPatch(aiDraft(cfg), keys));
      const r = await api.aiHealthcheck();
      setHealth({ ok: true, text: r.result });
    } catch (err) {
      const e = err as ApiError;
      setHealth({ ok: false, code: e.code ?? "error", message: e.message });
    } finally {
      setTesting(false);
      // The healthcheck records the base URL a custom server answered at (`aiBaseUrlResolved`).
      api.settings().then(
        (s) => setCfg((c) => (c ? { ...c, aiBaseUrlResolved: s.aiBaseUrlResolved } : c)),
        () => {},
      );
    }
  };
  const removeKey = async (key: string) => {
    if (!confirm("Remove this key from the server?")) return;
    setMsg("");
    setError("");
    try {
      await persist({ [key]: null });
      setMsg("Key removed.");
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <main id="main" class="page">
      <h1>Settings</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {msg && <p role="status">{msg}</p>}
      <form class="card stack" onSubmit={save}>
        <label for="default-language">Default language for new notebooks</label>
        <select
          id="default-language"
          value={cfg.defaultLanguage}
          onChange={(e) => set("defaultLanguage", e.currentTarget.value)}
        >
          <option value="typescript">TypeScript</option>
          <option value="javascript">JavaScript</option>
        </select>
        <p class="meta">
          Notebooks are stored in <code>{cfg.baseDir}</code>.
        </p>
        {ai && (
          <AiSettings
            cfg={cfg}
            set={set}
            keys={keys}
            setKey={(k, v) => setKeys({ ...keys, [k]: v })}
            models={models}
            health={health}
            testing={testing}
            onTest={test}
            onRemoveKey={removeKey}
          />
        )}
        <button type="submit" class="primary">
          Save settings
        </button>
      </form>
      <McpSettings baseDir={cfg.baseDir} />
    </main>
  );
}

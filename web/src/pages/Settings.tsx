import { useEffect, useState } from "preact/hooks";
import { api } from "../api";

// The AI settings (provider, model, keys) stay hidden until AI features work (a later issue).

export function Settings() {
  const [cfg, setCfg] = useState<Record<string, any> | null>(null);
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
    const patch: Record<string, unknown> = { defaultLanguage: cfg.defaultLanguage };
    try {
      await api.saveSettings(patch);
      await load();
      setMsg("Settings saved.");
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
        <p class="meta">Notebooks are stored in <code>{cfg.baseDir}</code>.</p>
        <button type="submit" class="primary">Save settings</button>
      </form>
    </main>
  );
}

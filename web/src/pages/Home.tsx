import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ApiError, titleOf } from "../api";
import type { Example, Language, Session } from "../wire";
import { navigate } from "../router";
import { GenerateWithAi } from "../ai/Generate";

type Sort = "recent" | "title";

function Create({ onError }: { onError: (m: string) => void }) {
  const [name, setName] = useState("");
  // Settings' default language. Until it is known (a moment) nothing is chosen and Create waits, so neither a
  // click nor a submit can be overridden by the settings arriving later.
  const [language, setLanguage] = useState<Language | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const ready = language !== undefined;
  useEffect(() => {
    api.settings().then(
      (s) => {
        const l = s.defaultLanguage;
        setLanguage((chosen) => chosen ?? (l === "javascript" ? "javascript" : "typescript"));
      },
      () => setLanguage((chosen) => chosen ?? "typescript"),
    );
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!language) return;
    setBusy(true);
    try {
      const r = await api.create(name.trim() || "Untitled", language);
      navigate(`/srcbooks/${r.id}`);
    } catch (err) {
      onError((err as Error).message);
      setBusy(false);
    }
  };
  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="create-title">
      <h2 id="create-title">New notebook</h2>
      <label for="nb-name">Title</label>
      <input
        id="nb-name"
        maxLength={44}
        placeholder="Untitled"
        value={name}
        onInput={(e) => setName(e.currentTarget.value)}
      />
      <fieldset class="row" disabled={!ready} aria-busy={!ready || undefined}>
        <legend>Language</legend>
        {(["typescript", "javascript"] as const).map((l) => (
          <label key={l} class="radio">
            <input
              type="radio"
              name="lang"
              value={l}
              checked={language === l}
              onChange={() => setLanguage(l)}
            />
            {l === "typescript" ? "TypeScript" : "JavaScript"}
          </label>
        ))}
      </fieldset>
      <button type="submit" class="primary" disabled={busy || !ready}>
        Create notebook
      </button>
    </form>
  );
}

function Import({ onError }: { onError: (m: string) => void }) {
  const [mode, setMode] = useState<"file" | "url" | "text">("file");
  const [url, setUrl] = useState("");
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const run = async (body: { text: string } | { url: string }) => {
    setBusy(true);
    try {
      const r = await api.importDoc(body);
      navigate(`/srcbooks/${r.id}`);
    } catch (err) {
      onError(`Import failed: ${(err as Error).message}`);
      setBusy(false);
    }
  };
  const onFile = async (e: Event) => {
    const f = (e.currentTarget as HTMLInputElement).files?.[0];
    if (f) await run({ text: await f.text() });
  };
  return (
    <section class="card stack" aria-labelledby="import-title">
      <h2 id="import-title">Import</h2>
      <div class="tabs" role="group" aria-label="Import from">
        {(["file", "url", "text"] as const).map((m) => (
          <button key={m} type="button" aria-pressed={mode === m} onClick={() => setMode(m)}>
            {m === "file" ? "File" : m === "url" ? "URL" : "Paste"}
          </button>
        ))}
      </div>
      {mode === "file" && (
        <>
          <label for="import-file">A .src.md file</label>
          <input
            id="import-file"
            type="file"
            accept=".md,.src.md,text/markdown"
            onChange={onFile}
            disabled={busy}
          />
        </>
      )}
      {mode === "url" && (
        <form class="stack" onSubmit={(e) => (e.preventDefault(), run({ url }))}>
          <label for="import-url">URL of a .src.md document</label>
          <input
            id="import-url"
            type="url"
            required
            placeholder="https://…"
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
          <button type="submit" disabled={busy}>
            Import from URL
          </button>
        </form>
      )}
      {mode === "text" && (
        <form class="stack" onSubmit={(e) => (e.preventDefault(), run({ text }))}>
          <label for="import-text">.src.md text</label>
          <textarea
            id="import-text"
            rows={6}
            required
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
          <button type="submit" disabled={busy}>
            Import text
          </button>
        </form>
      )}
    </section>
  );
}

export function Home() {
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [examples, setExamples] = useState<Example[]>([]);
  const [query, setQuery] = useState("");
  const [sort, setSort] = useState<Sort>("recent");
  const [error, setError] = useState("");

  const load = () =>
    api.sessions().then(setSessions, (e: ApiError) => e.status !== 401 && setError(e.message));
  useEffect(() => {
    document.title = "Notebooks · Quire";
    load();
    api.examples().then(setExamples, () => {});
  }, []);

  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    const list = (sessions ?? []).filter((s) => !q || titleOf(s).toLowerCase().includes(q));
    return list.sort((a, b) =>
      sort === "recent" ? b.openedAt - a.openedAt : titleOf(a).localeCompare(titleOf(b)),
    );
  }, [sessions, query, sort]);

  const remove = async (s: Session) => {
    if (!confirm(`Delete “${titleOf(s)}”? This cannot be undone.`)) return;
    try {
      await api.remove(s.id);
      setSessions((l) => (l ?? []).filter((x) => x.id !== s.id));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const openExample = async (ex: Example) => {
    try {
      const r = await api.importDoc({ path: ex.path });
      navigate(`/srcbooks/${r.id}`);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <main id="main" class="page home">
      <h1>Notebooks</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="grid">
        <Create onError={setError} />
        <Import onError={setError} />
        <GenerateWithAi />
      </div>
      <section aria-labelledby="list-title">
        <div class="list-head">
          <h2 id="list-title">Your notebooks</h2>
          <label class="sr-only" for="search">
            Search notebooks
          </label>
          <input
            id="search"
            type="search"
            placeholder="Search"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
          />
          <label class="sr-only" for="sort">
            Sort by
          </label>
          <select id="sort" value={sort} onChange={(e) => setSort(e.currentTarget.value as Sort)}>
            <option value="recent">Recently opened</option>
            <option value="title">Title</option>
          </select>
        </div>
        {sessions === null ? (
          <p aria-busy="true">Loading…</p>
        ) : shown.length === 0 ? (
          <p>
            {sessions.length ? "No notebook matches." : "No notebooks yet: create one or open an example."}
          </p>
        ) : (
          <ul class="notebooks">
            {shown.map((s) => {
              const running = s.cells.some(
                (c) => (c.type === "code" || c.type === "package.json") && c.status === "running",
              );
              return (
                <li key={s.id} class="nb-item">
                  <a href={`/srcbooks/${s.id}`} class="nb-link">
                    <span class="nb-title">{titleOf(s)}</span>
                    <span class="meta">
                      {s.language === "typescript" ? "TS" : "JS"} ·{" "}
                      {s.cells.filter((c) => c.type === "code").length} code cells ·{" "}
                      {new Date(s.openedAt).toLocaleString()}
                      {running && " · running"}
                    </span>
                  </a>
                  <button
                    type="button"
                    class="danger small"
                    aria-label={`Delete ${titleOf(s)}`}
                    onClick={() => remove(s)}
                  >
                    Delete
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      </section>
      {examples.length > 0 && (
        <section aria-labelledby="examples-title">
          <h2 id="examples-title">Examples</h2>
          <ul class="examples">
            {examples.map((ex) => (
              <li key={ex.id} class="card">
                <h3>{ex.title}</h3>
                <p>{ex.description}</p>
                <button type="button" onClick={() => openExample(ex)}>
                  Open “{ex.title}”
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
    </main>
  );
}

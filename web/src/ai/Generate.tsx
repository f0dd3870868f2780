// Home page: "Generate with AI": a new notebook written by the model, its text shown as it streams; once
// imported the page opens it. Stop aborts the request (the server stops the model).
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { navigate } from "../router";
import { generateNotebook } from "./generate";
import { aiConfigured } from "./settings";
import { SetupNeeded, StreamedText } from "./Setup";

export function GenerateWithAi() {
  const [query, setQuery] = useState("");
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const [stopped, setStopped] = useState(false);
  const [ready, setReady] = useState<boolean | undefined>(undefined);
  const [setup, setSetup] = useState(false);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => {
    api.settings().then(
      (s) => setReady(aiConfigured(s)),
      () => {},
    );
    return () => abort.current?.abort();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!query.trim() || busy) return;
    if (ready === false) return setSetup(true);
    const ctl = new AbortController();
    abort.current = ctl;
    setBusy(true);
    setText("");
    setError(null);
    setStopped(false);
    try {
      const r = await generateNotebook(query.trim(), (d) => setText((t) => t + d), ctl.signal);
      navigate(`/srcbooks/${r.id}`);
    } catch (err) {
      if ((err as Error).name === "AbortError") setStopped(true);
      else if (err instanceof ApiError) setError({ code: err.code, message: err.message });
      else setError({ code: "error", message: (err as Error).message });
    } finally {
      abort.current = null;
      setBusy(false);
    }
  };

  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="generate-title">
      <h2 id="generate-title">Generate with AI</h2>
      <label for="generate-query">Describe the notebook</label>
      <textarea
        id="generate-query"
        rows={3}
        placeholder="A notebook that fetches JSON from an API and charts it…"
        value={query}
        onInput={(e) => setQuery(e.currentTarget.value)}
        disabled={busy}
      />
      <div class="row">
        <button type="submit" class="primary" disabled={busy || !query.trim()}>
          Generate
        </button>
        {busy && (
          <button type="button" class="stop" onClick={() => abort.current?.abort()}>
            Stop
          </button>
        )}
        {busy && (
          <span class="status running" role="status">
            Writing the notebook…
          </span>
        )}
      </div>
      {(setup || ready === false) && <SetupNeeded />}
      {(busy || text) && <StreamedText text={text || "…"} busy={busy} label="The notebook so far" />}
      {stopped && (
        <p class="meta" role="status">
          Stopped: no notebook was made.
        </p>
      )}
      {error && (
        <p class="error ai-error" role="alert">
          {error.message.replace(/\.$/, "")}. <code class="ai-code">{error.code}</code>
        </p>
      )}
    </form>
  );
}

import { memo } from "preact/compat";
import { useCallback, useEffect, useReducer, useRef, useState } from "preact/hooks";
import type { EditorView } from "@codemirror/view";
import { api, takeSession, ApiError, titleOf, urls } from "../api";
import { ClientEvent, type Cell } from "../wire";
import { CodeCellView, MarkdownCellView, PackageJsonView, Refused } from "./cells";
import { createEditor, setRemoteText, type LspHooks } from "./editor";
import { NotebookStore } from "./store";
import { CellsAiPanel, type CellsAiState } from "../ai/CellsAi";
import { aiConfigured } from "../ai/settings";
import { McpApprovals } from "../mcp/ApprovalDialog";

// Memoised: a notebook re-renders on each of its changes, and a big one has hundreds of these.
const AddBar = memo(function AddBar({
  store,
  index,
  aiReady,
}: {
  store: NotebookStore;
  index: number;
  aiReady?: boolean;
}) {
  const [ai, setAi] = useState<CellsAiState>(null);
  return (
    <>
      <div class="add-bar" role="group" aria-label="Insert a cell here">
        <button type="button" class="small" onClick={() => store.createCell(index, "code", true)}>
          + Code
        </button>
        <button type="button" class="small" onClick={() => store.createCell(index, "markdown", true)}>
          + Markdown
        </button>
        <button
          type="button"
          class="small ai-btn"
          aria-expanded={ai !== null}
          title={aiReady === false ? "Set up AI in Settings" : "Ask AI for new cells here"}
          onClick={() => setAi(ai ? null : aiReady === false ? { mode: "setup" } : { mode: "prompt" })}
        >
          + AI
        </button>
      </div>
      <CellsAiPanel store={store} index={index} state={ai} setState={setAi} />
    </>
  );
});

function Title({ store }: { store: NotebookStore }) {
  const cell = store.cells[0];
  const [text, setText] = useState(cell?.type === "title" ? cell.text : "");
  useEffect(
    () =>
      cell?.type === "title" && document.activeElement?.id !== "nb-title" ? setText(cell.text) : undefined,
    [cell],
  );
  if (cell?.type !== "title") return null;
  return (
    <h1 class="nb-h1">
      <label class="sr-only" for="nb-title">
        Notebook title
      </label>
      <input
        id="nb-title"
        class="title-input"
        maxLength={44}
        value={text}
        onInput={(e) => {
          setText(e.currentTarget.value);
          // An empty title cannot be saved: say so rather than "All changes saved".
          const empty = !e.currentTarget.value.trim();
          store.setProblem("title", empty ? "a notebook needs a title" : undefined);
          if (!empty) store.edit(cell.id, { text: e.currentTarget.value });
        }}
      />
    </h1>
  );
}

function TsconfigEditor({ store }: { store: NotebookStore }) {
  const host = useRef<HTMLDivElement>(null);
  const [error, setError] = useState("");
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (!open) return;
    let timer = 0;
    const v = createEditor(host.current!, {
      doc: store.tsconfig ?? "{}",
      lang: "json",
      label: "tsconfig.json",
      onChange: (t) => {
        clearTimeout(timer);
        timer = window.setTimeout(() => {
          try {
            JSON.parse(t);
            setError("");
            store.setProblem("tsconfig.json");
            store.updateTsconfig(t);
          } catch (e) {
            setError(`Not saved: ${(e as Error).message}`);
            store.setProblem("tsconfig.json", "tsconfig.json is not valid JSON");
          }
        }, 300);
      },
    });
    const off = store.onChange(
      () =>
        store.tsconfig !== undefined &&
        document.activeElement !== v.contentDOM &&
        setRemoteText(v, store.tsconfig),
    );
    return () => (clearTimeout(timer), off(), v.destroy());
  }, [open]);
  const refused = store.problems.get("tsconfig.json");
  return (
    <details class="cell tsconfig" onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>tsconfig.json</summary>
      {(error || refused) && (
        <p class="error" role="alert">
          {error || `Not saved: ${refused}`}
        </p>
      )}
      <div class="editor" ref={host} />
    </details>
  );
}

function saveLabel(store: NotebookStore) {
  const refused = [...[...store.refused.values()].map((r) => r.message), ...store.problems.values()];
  switch (store.saveState) {
    case "saved":
      return "All changes saved";
    case "saving":
      return "Saving…";
    case "offline":
      return "Offline: changes kept locally";
    case "unsaved":
      return refused.length === 1
        ? `Not saved: ${refused[0]}`
        : `Not saved: ${refused.length} changes (see the marked cells)`;
  }
}

function SaveIndicator({ store }: { store: NotebookStore }) {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  useEffect(() => store.onSaveState(() => rerender(0)), [store]);
  return (
    <span class={`save ${store.saveState}`} role="status" data-testid="save-state">
      {saveLabel(store)}
    </span>
  );
}

function RunAllButton({ store }: { store: NotebookStore }) {
  const all = store.runAll;
  if (all.active) {
    const c = all.current ? store.cell(all.current) : undefined;
    return (
      <>
        <span class="status running" role="status">
          Running all{c?.type === "code" ? `: ${c.filename}` : "…"}
        </span>
        <button type="button" class="stop" onClick={() => store.runAll.stop()}>
          Stop run all
        </button>
      </>
    );
  }
  return (
    <button
      type="button"
      onClick={() => store.runAll.start()}
      disabled={store.unsupported.has(ClientEvent.cellExec)}
    >
      Run all
    </button>
  );
}

export default function Notebook({ id }: { id: string }) {
  const [store, setStore] = useState<NotebookStore | null>(null);
  const [error, setError] = useState("");
  const [aiReady, setAiReady] = useState<boolean | undefined>(undefined);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const editors = useRef(new Map<string, EditorView>());
  const registerEditor = useCallback(
    (cid: string, v: EditorView | null) =>
      void (v ? editors.current.set(cid, v) : editors.current.delete(cid)),
    [],
  );
  // Stable callbacks: the memoised cells must not all re-render on every notebook change.
  const goTo = useCallback<LspHooks["goTo"]>(
    (t) => {
      if (!store) return;
      const base = t.file?.split(/[\\/]/).pop();
      const cell = store.cells.find((c) => c.id === t.cellId || (c.type === "code" && c.filename === base));
      const view = cell && editors.current.get(cell.id);
      if (!view) return;
      const ln = view.state.doc.line(Math.min(Math.max(1, t.line), view.state.doc.lines));
      const pos = Math.min(ln.to, ln.from + Math.max(0, t.offset - 1));
      view.dom.scrollIntoView({ block: "center" });
      view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
      view.focus();
    },
    [store],
  );

  useEffect(() => {
    let s: NotebookStore | null = null;
    let off = () => {};
    let gone = false;
    takeSession(id).then(
      (session) => {
        if (gone) return;
        s = new NotebookStore(session);
        off = s.onChange(() => rerender(0));
        setStore(s);
        document.title = `${titleOf(session)} · Quire`;
      },
      (e: ApiError) =>
        setError(e.status === 404 ? "This notebook does not exist (it may have been deleted)." : e.message),
    );
    // Whether AI is set up: until this answers (or if it fails), the AI buttons just try. Asked again when
    // the tab comes back (AI may have been set up in another one).
    const aiSetup = () =>
      api.settings().then(
        (cfg) => !gone && setAiReady(aiConfigured(cfg)),
        () => {},
      );
    aiSetup();
    const flush = () => s?.flushAll();
    addEventListener("pagehide", flush);
    addEventListener("focus", aiSetup);
    return () => {
      gone = true;
      removeEventListener("pagehide", flush);
      removeEventListener("focus", aiSetup);
      off();
      s?.dispose();
    };
  }, [id]);

  if (error)
    return (
      <main id="main" class="page">
        <h1>Notebook</h1>
        <p class="error" role="alert">
          {error}
        </p>
        <a href="/">Back to notebooks</a>
      </main>
    );
  if (!store)
    return (
      <main id="main" class="page" aria-busy="true">
        <p>Loading notebook…</p>
      </main>
    );

  const cells = store.cells;
  const u = store.unsupported.size;
  const body: preact.JSX.Element[] = [];
  cells.forEach((c: Cell, i) => {
    if (c.type === "title") return;
    if (c.type === "package.json") {
      body.push(
        <PackageJsonView
          key={c.id}
          store={store}
          cell={c}
          outputs={store.outputs.get(c.id)}
          refused={store.refused.get(c.id)}
          v={store.version}
        />,
      );
      if (store.language === "typescript") body.push(<TsconfigEditor key="tsconfig" store={store} />);
      body.push(<AddBar key={`add-${i}`} store={store} index={i + 1} aiReady={aiReady} />);
      return;
    }
    const common = {
      store,
      index: i,
      count: cells.length,
      registerEditor,
      goTo,
      errors: store.errors.get(c.id),
      refused: store.refused.get(c.id),
    };
    if (c.type === "code")
      body.push(
        <CodeCellView
          key={c.id}
          {...common}
          cell={c}
          outputs={store.outputs.get(c.id)}
          u={u}
          aiReady={aiReady}
        />,
      );
    else if (c.type === "markdown") body.push(<MarkdownCellView key={c.id} {...common} cell={c} />);
    body.push(<AddBar key={`add-${c.id}`} store={store} index={i + 1} aiReady={aiReady} />);
  });
  if (!cells.some((c) => c.type === "package.json"))
    body.unshift(<AddBar key="add-top" store={store} index={1} aiReady={aiReady} />);

  return (
    <main id="main" class="page notebook">
      <div class="nb-head">
        <Title store={store} />
        <div class="row nb-actions">
          <span class="pill">{store.language === "typescript" ? "TypeScript" : "JavaScript"}</span>
          <SaveIndicator store={store} />
          <a href={urls.exportText(store.session.id)} download={`${titleOf(store.session)}.src.md`}>
            Export .src.md
          </a>
          <RunAllButton store={store} />
        </div>
      </div>
      {cells[0]?.type === "title" && (
        <Refused store={store} id={cells[0].id} refused={store.refused.get(cells[0].id)} />
      )}
      {store.notice && (
        <p class="error" role="alert">
          {store.notice}
        </p>
      )}
      {body}
      <McpApprovals approvals={store.mcp} />
    </main>
  );
}

import { memo } from "preact/compat";
import { useEffect, useRef, useState } from "preact/hooks";
import type { EditorView } from "@codemirror/view";
import { ClientEvent, type CodeCell, type MarkdownCell, type PackageJsonCell } from "../wire";
import { ansiSegments } from "./ansi";
import { createEditor, setRemoteText, showDiagnostics, showLineProblem, soon, type LspHooks } from "./editor";
import { renderMarkdown } from "./markdown";
import type { NotebookStore, Output, Refusal } from "./store";
import { CellAiButtons, CellAiPanel, type CellAiState } from "../ai/CellAi";

export type CellProps = {
  store: NotebookStore;
  index: number;
  count: number;
  registerEditor?: (id: string, v: EditorView | null) => void;
  goTo?: LspHooks["goTo"];
};

export function Outputs({ outputs }: { outputs: Output[] | undefined }) {
  if (!outputs?.length) return null;
  return (
    <pre class="output" aria-label="Output" tabIndex={0}>
      {outputs.map((o, i) => (
        <span key={i} class={o.type}>
          {ansiSegments(o.data).map((s, j) =>
            s.cls ? (
              <span key={j} class={s.cls}>
                {s.text}
              </span>
            ) : (
              s.text
            ),
          )}
        </span>
      ))}
    </pre>
  );
}

function CellTools({
  store,
  id,
  index,
  count,
  label,
}: {
  store: NotebookStore;
  id: string;
  index: number;
  count: number;
  label: string;
}) {
  return (
    <>
      <button
        type="button"
        class="icon"
        aria-label={`Move ${label} up`}
        disabled={index <= 2}
        onClick={() => store.moveCell(id, -1)}
      >
        ↑
      </button>
      <button
        type="button"
        class="icon"
        aria-label={`Move ${label} down`}
        disabled={index >= count - 1}
        onClick={() => store.moveCell(id, 1)}
      >
        ↓
      </button>
      <button
        type="button"
        class="icon danger"
        aria-label={`Delete ${label}`}
        onClick={() => confirm(`Delete ${label}?`) && store.deleteCell(id)}
      >
        ✕
      </button>
    </>
  );
}

/** An edit the server refused: the text stays in the editor; this says why and what can be done. */
export function Refused({
  store,
  id,
  refused: r,
}: {
  store: NotebookStore;
  id: string;
  refused: Refusal | undefined;
}) {
  if (!r) return null;
  const twin = r.gone ? store.namesake(id) : undefined;
  const kind = store.cell(id)?.type;
  return (
    <div class="refused" role="alert" data-testid="refused">
      <p>
        <strong>Not saved.</strong> {r.message.replace(/\.$/, "")}. Your text is kept{" "}
        {r.gone ? "here and in this browser" : "here: change it and it is saved again"}.
      </p>
      <div class="row">
        {!r.gone && !r.code.startsWith("invalid_") && (
          <button type="button" class="small" onClick={() => store.retry(id)}>
            Save again
          </button>
        )}
        {twin?.type === "code" && (
          <button type="button" class="small" onClick={() => store.saveInto(id, twin.id)}>
            Save into {twin.filename}
          </button>
        )}
        {r.gone && (kind === "code" || kind === "markdown") && (
          <button type="button" class="small" onClick={() => store.recreate(id)}>
            Re-create as a new cell
          </button>
        )}
        <button
          type="button"
          class="small danger"
          onClick={() => confirm("Discard the text that was not saved?") && store.discard(id)}
        >
          Discard my changes
        </button>
      </div>
    </div>
  );
}

function Errors({ list }: { list: string[] | undefined }) {
  return list?.length ? (
    <p class="error" role="alert">
      {list.join(" ")}
    </p>
  ) : null;
}

function FileName({ store, cell }: { store: NotebookStore; cell: CodeCell }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(cell.filename);
  useEffect(() => setName(cell.filename), [cell.filename]);
  if (!editing)
    return (
      <button
        type="button"
        class="filename"
        title="Rename file"
        aria-label={`Rename ${cell.filename}`}
        onClick={() => setEditing(true)}
      >
        {cell.filename}
      </button>
    );
  const done = (save: boolean) => {
    setEditing(false);
    if (save && name.trim() && name.trim() !== cell.filename) store.rename(cell.id, name.trim());
    else setName(cell.filename);
  };
  return (
    <input
      class="filename-input"
      aria-label="File name"
      value={name}
      ref={(el) => el?.focus()}
      onInput={(e) => setName(e.currentTarget.value)}
      onBlur={() => done(true)}
      onKeyDown={(e) => (e.key === "Enter" ? done(true) : e.key === "Escape" ? done(false) : undefined)}
    />
  );
}

const fmtMs = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);

function RunInfo({ cell }: { cell: CodeCell }) {
  if (cell.status === "running")
    return (
      <span class="status running" role="status">
        Running…
      </span>
    );
  if (cell.exitCode === undefined && cell.signal === undefined) return <span class="status idle">Idle</span>;
  const ok = cell.exitCode === 0;
  return (
    <span class={`status ${ok ? "ok" : "fail"}`} data-testid="exit">
      {cell.signal ? `Stopped (${cell.signal})` : `Exit ${cell.exitCode}`}
      {cell.durationMs !== undefined && ` · ${fmtMs(cell.durationMs)}`}
    </span>
  );
}

type CodeProps = CellProps & {
  cell: CodeCell;
  outputs?: Output[];
  errors?: string[];
  refused?: Refusal;
  u: number;
  /** Whether AI is set up (undefined: not known yet). */
  aiReady?: boolean;
};
export const CodeCellView = memo(function CodeCellView(p: CodeProps) {
  const { store, cell } = p;
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const [ready, setReady] = useState(false);
  const [ai, setAi] = useState<CellAiState>(null);
  const aiReady = useRef(p.aiReady);
  aiReady.current = p.aiReady;
  useEffect(() => {
    let v: EditorView | null = null;
    let off = () => {};
    const cancel = soon(() => {
      v = createEditor(host.current!, {
        doc: store.cell(cell.id)?.type === "code" ? (store.cell(cell.id) as CodeCell).source : cell.source,
        lang: cell.language === "typescript" ? "ts" : "js",
        label: `Code of ${cell.filename}`,
        onChange: (text) => store.edit(cell.id, { source: text }),
        onRun: () => store.run(cell.id),
        onRunAndAdd: () => {
          store.run(cell.id);
          const at = store.cells.findIndex((c) => c.id === cell.id) + 1;
          store.createCell(at, "code", true);
        },
        onFormat: () => store.format(cell.id),
        onAi: () => setAi(aiReady.current === false ? { mode: "setup" } : { mode: "prompt" }),
        lsp: { store, cellId: () => cell.id, goTo: p.goTo! },
      });
      const ed = v;
      view.current = ed;
      p.registerEditor?.(cell.id, ed);
      const d = store.diagnostics.get(cell.id);
      if (d) showDiagnostics(ed, d);
      off = store.onCellReplaced(cell.id, (c) => {
        if (c.type === "code") setRemoteText(ed, c.source);
        showDiagnostics(ed, store.diagnostics.get(cell.id) ?? []);
      });
      if (store.takeFocus(cell.id)) ed.focus();
      setReady(true);
    });
    return () => {
      cancel();
      off();
      if (v) {
        p.registerEditor?.(cell.id, null);
        v.destroy();
      }
    };
  }, [cell.id]);
  const running = cell.status === "running";
  const gone = p.refused?.gone === true;
  const canRun = !store.unsupported.has(ClientEvent.cellExec) && !gone;
  return (
    <section
      class={`cell code ${running ? "is-running" : ""}`}
      id={cell.filename}
      data-cell-id={cell.id}
      aria-label={`Code cell ${cell.filename}`}
    >
      <div class="cell-bar">
        <FileName store={store} cell={cell} />
        <RunInfo cell={cell} />
        <span class="spacer" />
        {running ? (
          <button
            type="button"
            class="stop"
            onClick={() => store.stop(cell.id)}
            disabled={store.unsupported.has(ClientEvent.cellStop)}
          >
            Stop
          </button>
        ) : (
          <button
            type="button"
            class="run"
            onClick={() => store.run(cell.id)}
            disabled={!canRun}
            title={canRun ? "Run (Shift+Enter)" : "Running cells is not available on this server"}
          >
            Run
          </button>
        )}
        {!store.unsupported.has(ClientEvent.cellFormat) && !gone && (
          <button
            type="button"
            class="small"
            onClick={() => store.format(cell.id)}
            aria-label={`Format ${cell.filename}`}
          >
            Format
          </button>
        )}
        {!gone && (
          <CellAiButtons store={store} cell={cell} configured={p.aiReady} state={ai} setState={setAi} />
        )}
        <CellTools store={store} id={cell.id} index={p.index} count={p.count} label={cell.filename} />
      </div>
      {!ready && (
        <pre class="editor-placeholder" aria-hidden="true">
          {cell.source || " "}
        </pre>
      )}
      <div class="editor" ref={host} />
      <Refused store={store} id={cell.id} refused={p.refused} />
      <Errors list={p.errors} />
      <Outputs outputs={p.outputs} />
      <CellAiPanel
        store={store}
        cell={cell}
        state={ai}
        setState={setAi}
        onClose={() => view.current?.focus()}
      />
    </section>
  );
});

export const MarkdownCellView = memo(function MarkdownCellView(
  p: CellProps & { cell: MarkdownCell; errors?: string[]; refused?: Refusal },
) {
  const { store, cell } = p;
  // A new cell opens in edit mode; so does one whose edit was refused, to show the problem at its line.
  const [editing, setEditing] = useState(() => store.wantsFocus(cell.id) || !!p.refused);
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const text = () => {
    const c = store.cell(cell.id);
    return c?.type === "markdown" ? c.text : cell.text;
  };
  const stop = () => {
    setEditing(false);
    store.flush(cell.id);
  };
  useEffect(() => {
    if (!editing) return;
    const v = createEditor(host.current!, {
      doc: text(),
      lang: "md",
      label: "Markdown source",
      onChange: (t) => store.edit(cell.id, { text: t }),
      onRun: stop,
      onEscape: stop,
    });
    view.current = v;
    const off = store.onCellReplaced(cell.id, (c) => c.type === "markdown" && setRemoteText(v, c.text));
    if (store.takeFocus(cell.id)) {
      v.focus();
      v.dispatch({ selection: { anchor: 0, head: v.state.doc.length } }); // typing replaces the placeholder
    }
    return () => (off(), v.destroy(), (view.current = null));
  }, [editing]);
  useEffect(() => {
    if (p.refused) setEditing(true);
  }, [p.refused]);
  useEffect(() => {
    if (view.current) showLineProblem(view.current, p.refused?.line, p.refused?.message ?? "");
  }, [p.refused, editing]);
  return (
    <section class="cell markdown" data-cell-id={cell.id} aria-label="Markdown cell">
      <div class="cell-bar">
        <span class="kind">Markdown</span>
        <span class="spacer" />
        <button type="button" class="small" onClick={() => (editing ? stop() : setEditing(true))}>
          {editing ? "Done" : "Edit"}
        </button>
        <CellTools store={store} id={cell.id} index={p.index} count={p.count} label="markdown cell" />
      </div>
      {editing ? (
        <div class="editor md-editor" ref={host} />
      ) : (
        <div
          class="md"
          onDblClick={() => setEditing(true)}
          dangerouslySetInnerHTML={{ __html: renderMarkdown(text()) }}
        />
      )}
      <Refused store={store} id={cell.id} refused={p.refused} />
      <Errors list={p.errors} />
    </section>
  );
});

function InstallState({ store, cell }: { store: NotebookStore; cell: PackageJsonCell }) {
  const i = store.deps.install;
  if (cell.status === "running") return <span class="status running">installing…</span>;
  if (i?.state === "ok") return <span class="status ok">installed</span>;
  if (i?.state === "failed" || cell.status === "failed")
    return (
      <span class="status failed">install failed{i?.exitCode != null ? ` (exit ${i.exitCode})` : ""}</span>
    );
  return null;
}

export function PackageJsonView({
  store,
  cell,
  outputs,
  refused,
}: {
  store: NotebookStore;
  cell: PackageJsonCell;
  outputs?: Output[];
  refused?: Refusal;
  v: number;
}) {
  const host = useRef<HTMLDivElement>(null);
  // Opened by an install (to show npm's output) and left open after it: the user closes it.
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (cell.status === "running") setOpen(true);
  }, [cell.status]);
  useEffect(() => {
    const v = createEditor(host.current!, {
      doc: cell.source,
      lang: "json",
      label: "package.json",
      onChange: (t) => store.edit(cell.id, { source: t }),
    });
    const off = store.onCellReplaced(cell.id, (c) => c.type === "package.json" && setRemoteText(v, c.source));
    return () => (off(), v.destroy());
  }, [cell.id]);
  const canInstall = !store.unsupported.has(ClientEvent.depsInstall);
  const { missing, notInstalled, install } = store.deps;
  return (
    <>
      {(missing.length > 0 || notInstalled.length > 0) && (
        <p class="notice" role="status" data-testid="deps-notice">
          {missing.length
            ? `Imported but not in package.json: ${missing.join(", ")}.`
            : `Not installed yet: ${notInstalled.join(", ")}.`}{" "}
          <button
            type="button"
            onClick={() => store.installDeps(missing)}
            disabled={!canInstall || cell.status === "running"}
          >
            Install {missing.length ? missing.join(", ") : "dependencies"}
          </button>
        </p>
      )}
      <details
        class="cell pkg"
        open={open}
        onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}
      >
        <summary>
          package.json <InstallState store={store} cell={cell} />
        </summary>
        <div class="editor" ref={host} />
        <Refused store={store} id={cell.id} refused={refused} />
        <div class="row">
          <button
            type="button"
            onClick={() => store.installDeps()}
            disabled={!canInstall || cell.status === "running"}
          >
            Install dependencies
          </button>
          {!canInstall && <span class="meta">Installing is not available on this server.</span>}
          {install?.state === "ok" && cell.status !== "running" && (
            <span class="status ok" role="status">
              Dependencies installed.
            </span>
          )}
        </div>
        <Outputs outputs={outputs} />
      </details>
    </>
  );
}

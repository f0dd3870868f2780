import { memo } from "preact/compat";
import { useEffect, useRef, useState } from "preact/hooks";
import type { EditorView } from "@codemirror/view";
import type { CodeCell, MarkdownCell, PackageJsonCell } from "../api";
import { ansiSegments } from "./ansi";
import { createEditor, setRemoteText, showDiagnostics, soon, type LspHooks } from "./editor";
import { renderMarkdown } from "./markdown";
import type { NotebookStore, Output } from "./store";

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
          {ansiSegments(o.data).map((s, j) => (s.cls ? <span key={j} class={s.cls}>{s.text}</span> : s.text))}
        </span>
      ))}
    </pre>
  );
}

function CellTools({ store, id, index, count, label }: { store: NotebookStore; id: string; index: number; count: number; label: string }) {
  return (
    <>
      <button type="button" class="icon" aria-label={`Move ${label} up`} disabled={index <= 2} onClick={() => store.moveCell(id, -1)}>↑</button>
      <button type="button" class="icon" aria-label={`Move ${label} down`} disabled={index >= count - 1} onClick={() => store.moveCell(id, 1)}>↓</button>
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
      <button type="button" class="filename" title="Rename file" aria-label={`Rename ${cell.filename}`} onClick={() => setEditing(true)}>
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
  if (cell.status === "running") return <span class="status running" role="status">Running…</span>;
  if (cell.exitCode === undefined && cell.signal === undefined) return <span class="status idle">Idle</span>;
  const ok = cell.exitCode === 0;
  return (
    <span class={`status ${ok ? "ok" : "fail"}`} data-testid="exit">
      {cell.signal ? `Stopped (${cell.signal})` : `Exit ${cell.exitCode}`}
      {cell.durationMs !== undefined && ` · ${fmtMs(cell.durationMs)}`}
    </span>
  );
}

export const CodeCellView = memo(function CodeCellView(p: CellProps & { cell: CodeCell; outputs?: Output[]; errors?: string[]; u: number }) {
  const { store, cell } = p;
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const [ready, setReady] = useState(false);
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
          store.createCell(at, "code");
        },
        onFormat: () => store.format(cell.id),
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
  const canRun = !store.unsupported.has("cell:exec");
  return (
    <section class={`cell code ${running ? "is-running" : ""}`} id={cell.filename} data-cell-id={cell.id} aria-label={`Code cell ${cell.filename}`}>
      <div class="cell-bar">
        <FileName store={store} cell={cell} />
        <RunInfo cell={cell} />
        <span class="spacer" />
        {running ? (
          <button type="button" class="stop" onClick={() => store.stop(cell.id)} disabled={store.unsupported.has("cell:stop")}>
            Stop
          </button>
        ) : (
          <button type="button" class="run" onClick={() => store.run(cell.id)} disabled={!canRun} title={canRun ? "Run (Shift+Enter)" : "Running cells is not available on this server"}>
            Run
          </button>
        )}
        {!store.unsupported.has("cell:format") && (
          <button type="button" class="small" onClick={() => store.format(cell.id)} aria-label={`Format ${cell.filename}`}>Format</button>
        )}
        <CellTools store={store} id={cell.id} index={p.index} count={p.count} label={cell.filename} />
      </div>
      {!ready && <pre class="editor-placeholder" aria-hidden="true">{cell.source || " "}</pre>}
      <div class="editor" ref={host} />
      <Errors list={p.errors} />
      <Outputs outputs={p.outputs} />
    </section>
  );
});

export const MarkdownCellView = memo(function MarkdownCellView(p: CellProps & { cell: MarkdownCell; errors?: string[] }) {
  const { store, cell } = p;
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(cell.text);
  useEffect(() => {
    if (!editing) setText(cell.text);
  }, [cell.text, editing]);
  const area = useRef<HTMLTextAreaElement>(null);
  const fit = () => {
    const a = area.current;
    if (a) (a.style.height = "auto"), (a.style.height = a.scrollHeight + 2 + "px");
  };
  useEffect(() => {
    if (editing) (fit(), area.current?.focus());
  }, [editing]);
  const stop = () => {
    setEditing(false);
    store.flush(cell.id);
  };
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
        <textarea
          ref={area}
          class="md-editor"
          aria-label="Markdown source"
          value={text}
          onInput={(e) => {
            setText(e.currentTarget.value);
            store.edit(cell.id, { text: e.currentTarget.value });
            fit();
          }}
          onKeyDown={(e) => {
            if (e.key === "Escape" || ((e.ctrlKey || e.metaKey || e.shiftKey) && e.key === "Enter")) (e.preventDefault(), stop());
          }}
        />
      ) : (
        <div class="md" onDblClick={() => setEditing(true)} dangerouslySetInnerHTML={{ __html: renderMarkdown(cell.text) }} />
      )}
      <Errors list={p.errors} />
    </section>
  );
});

export function PackageJsonView({ store, cell, outputs }: { store: NotebookStore; cell: PackageJsonCell; outputs?: Output[]; v: number }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const v = createEditor(host.current!, { doc: cell.source, lang: "json", label: "package.json", onChange: (t) => store.edit(cell.id, { source: t }) });
    const off = store.onCellReplaced(cell.id, (c) => c.type === "package.json" && setRemoteText(v, c.source));
    return () => (off(), v.destroy());
  }, [cell.id]);
  const canInstall = !store.unsupported.has("deps:install");
  const missing = store.missingPackages;
  return (
    <>
      {(missing.length > 0 || store.depsOutOfSync) && (
        <p class="notice" role="status">
          {missing.length ? `Imported but not in package.json: ${missing.join(", ")}.` : "Dependencies are not installed."}{" "}
          <button type="button" onClick={() => store.installDeps(missing)} disabled={!canInstall}>
            Install {missing.length ? missing.join(", ") : "dependencies"}
          </button>
        </p>
      )}
    <details class="cell pkg" open={cell.status === "running" || undefined}>
      <summary>
        package.json <span class={`status ${cell.status}`}>{cell.status === "running" ? "installing…" : cell.status === "failed" ? "install failed" : ""}</span>
      </summary>
      <div class="editor" ref={host} />
      <div class="row">
        <button type="button" onClick={() => store.installDeps()} disabled={!canInstall || cell.status === "running"}>
          Install dependencies
        </button>
        {!canInstall && <span class="meta">Installing is not available on this server.</span>}
      </div>
      <Outputs outputs={outputs} />
    </details>
    </>
  );
}

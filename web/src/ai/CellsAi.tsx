// "+ AI" between cells: a prompt → `ai:generate_cells` → the live answer → a preview of the proposed cells
// (markdown rendered, code read-only) → Accept adds them here, in order, through the store's createCell.
import { useEffect, useRef } from "preact/hooks";
import type { Cell } from "../wire";
import type { NotebookStore } from "../notebook/store";
import { renderMarkdown } from "../notebook/markdown";
import { acceptCells, proposedCells } from "./apply";
import { readOnlyCode } from "./diff";
import { JobStream, PromptBox, TryAgain, usage, useJob } from "./Panel";
import { SetupPanel } from "./Setup";

export type CellsAiState = null | { mode: "prompt" } | { mode: "setup" } | { mode: "job"; jobId: string };

function CodePreview({ cell, lang }: { cell: Extract<Cell, { type: "code" }>; lang: "ts" | "js" }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const v = readOnlyCode(host.current!, cell.source, lang, `Proposed code of ${cell.filename}`);
    return () => v.destroy();
  }, [cell.source]);
  return (
    <div class="cell code ai-proposed">
      <div class="cell-bar">
        <span class="filename">{cell.filename}</span>
      </div>
      <div class="editor" ref={host} />
    </div>
  );
}

export function CellsAiPanel({
  store,
  index,
  state,
  setState,
}: {
  store: NotebookStore;
  /** Where the cells go (the add bar's position now, not when asked: cells may have moved since). */
  index: number;
  state: CellsAiState;
  setState: (s: CellsAiState) => void;
}) {
  const jobId = state?.mode === "job" ? state.jobId : null;
  const job = useJob(store.ai, jobId);
  const section = useRef<HTMLElement>(null);
  useEffect(() => section.current?.focus(), [jobId]);
  if (!state) return null;
  const close = () => {
    if (job) store.ai.drop(job.id);
    setState(null);
  };
  const label = "AI answer for new cells";
  if (state.mode === "setup") return <SetupPanel label={label} onClose={close} />;
  if (state.mode === "prompt")
    return (
      <div class="ai-panel">
        <PromptBox
          label="Describe the cells to add"
          placeholder="Ask AI for new cells here…"
          submit="Generate"
          onSubmit={(query) => {
            store.flushAll(); // the model sees the notebook the server has
            const j = store.ai.start({ kind: "cells", insertIdx: index, query });
            setState({ mode: "job", jobId: j.id });
          }}
          onCancel={close}
        />
      </div>
    );
  if (!job) return null;
  const cells = proposedCells(job.result?.cells);
  const lang = store.language === "typescript" ? "ts" : "js";
  return (
    <section class="ai-panel" aria-label={label} ref={section} tabIndex={-1}>
      <JobStream jobs={store.ai} job={job} />
      {job.status === "done" && (
        <>
          {cells.length ? (
            <div class="ai-preview" aria-label="Proposed cells" role="list">
              {cells.map((c, i) => (
                <div role="listitem" key={i}>
                  {c.type === "markdown" ? (
                    <div class="cell markdown ai-proposed">
                      <div class="md" dangerouslySetInnerHTML={{ __html: renderMarkdown(c.text) }} />
                    </div>
                  ) : (
                    <CodePreview cell={c} lang={lang} />
                  )}
                </div>
              ))}
            </div>
          ) : (
            <p class="error" role="alert">
              The answer held no cells.
            </p>
          )}
          <div class="row">
            {cells.length > 0 && (
              <button
                type="button"
                class="small primary"
                onClick={() => {
                  acceptCells(store, index, cells);
                  close();
                }}
              >
                Accept
              </button>
            )}
            <button type="button" class="small" onClick={close}>
              Reject
            </button>
            <span class="meta">
              {cells.length} cell{cells.length === 1 ? "" : "s"}
              {usage(job) && ` · ${usage(job)}`}
            </span>
          </div>
        </>
      )}
      {job.status === "failed" && (
        <div class="row">
          <TryAgain
            job={job}
            onClick={() => {
              const r = job.request;
              store.ai.drop(job.id);
              const next = store.ai.start(r.kind === "cells" ? { ...r, insertIdx: index } : r);
              setState({ mode: "job", jobId: next.id });
            }}
          />
          <button type="button" class="small" onClick={close}>
            Close
          </button>
        </div>
      )}
    </section>
  );
}

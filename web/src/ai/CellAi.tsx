// AI on a code cell: "AI" (ask for a change) and "Fix" (diagnostics or a failed run) in the cell's bar, and
// the panel under the editor: prompt → the live answer → a diff of the cell against the proposal, with
// Accept / Reject. Nothing is written to the cell before Accept (then through the store, like typing).
import { useEffect, useReducer, useRef, useState } from "preact/hooks";
import type { CodeCell } from "../wire";
import type { NotebookStore } from "../notebook/store";
import { acceptEdit, canFix, fixRequest, likeOriginal } from "./apply";
import { mountDiff } from "./diff";
import { JobStream, PromptBox, TryAgain, usage, useJob } from "./Panel";
import { SetupPanel } from "./Setup";

/** What the cell's AI panel shows: nothing, the prompt box, the "set up AI" note, or a job. */
export type CellAiState = null | { mode: "prompt" } | { mode: "setup" } | { mode: "job"; jobId: string };

/** The cell's "AI" and "Fix" buttons. `configured: false`: they open the "set up AI" note instead. */
export function CellAiButtons({
  store,
  cell,
  configured,
  state,
  setState,
}: {
  store: NotebookStore;
  cell: CodeCell;
  configured: boolean | undefined;
  state: CellAiState;
  setState: (s: CellAiState) => void;
}) {
  // Diagnostics arrive for the cell alone (no re-render of the notebook): "Fix" follows them.
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => store.onCellReplaced(cell.id, () => bump(0)), [store, cell.id]);
  const job = useJob(store.ai, state?.mode === "job" ? state.jobId : null);
  const busy = !!job && isBusy(store, job.id);
  const off = configured === false;
  const title = off ? "Set up AI in Settings" : undefined;
  const ask = () => setState(off ? { mode: "setup" } : state?.mode === "prompt" ? null : { mode: "prompt" });
  const fix = () => {
    if (off) return setState({ mode: "setup" });
    store.flush(cell.id); // the server fixes the text it has
    const job = store.ai.start(fixRequest(store, cell.id));
    setState({ mode: "job", jobId: job.id });
  };
  return (
    <>
      <button
        type="button"
        class="small ai-btn"
        onClick={ask}
        disabled={busy}
        aria-expanded={state?.mode === "prompt"}
        title={title ?? "Ask AI to change this cell (Ctrl+K)"}
      >
        AI
      </button>
      {canFix(store, cell.id) && (
        <button
          type="button"
          class="small ai-btn"
          onClick={fix}
          disabled={busy}
          title={title ?? "Ask AI to fix the problems of this cell"}
        >
          Fix
        </button>
      )}
    </>
  );
}

function isBusy(store: NotebookStore, jobId: string) {
  const s = store.ai.get(jobId)?.status;
  return s === "sending" || s === "streaming" || s === "stopping";
}

/** The proposal against the cell's text, once @codemirror/merge is loaded (the plain proposal until then).
 * `current` follows what is left of the proposal after per-change choices. */
function ProposalDiff({
  original,
  proposal,
  lang,
  label,
  current,
}: {
  original: string;
  proposal: string;
  lang: "ts" | "js";
  label: string;
  current: { text: string | null };
}) {
  const host = useRef<HTMLDivElement>(null);
  const [ready, setReady] = useState(false);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let view: { destroy(): void } | null = null;
    let gone = false;
    current.text = null;
    mountDiff(host.current!, { original, proposal, lang, label, onChange: (t) => (current.text = t) }).then(
      (v) => (gone ? v.destroy() : ((view = v), setReady(true))),
      () => setFailed(true),
    );
    return () => ((gone = true), view?.destroy());
  }, [original, proposal]);
  return (
    <>
      {!ready && <pre class="ai-text">{failed ? proposal : "Loading the diff…"}</pre>}
      <div class="ai-diff" ref={host} />
    </>
  );
}

export function CellAiPanel({
  store,
  cell,
  state,
  setState,
  onClose,
}: {
  store: NotebookStore;
  cell: CodeCell;
  state: CellAiState;
  setState: (s: CellAiState) => void;
  onClose: () => void;
}) {
  const jobId = state?.mode === "job" ? state.jobId : null;
  const job = useJob(store.ai, jobId);
  // What is left of the proposal after per-change choices (null: the whole proposal).
  const current = useRef<{ text: string | null }>({ text: null }).current;
  // The cell's text when the answer came: what the diff compares with (taken once per answer).
  const taken = useRef<{ id: string; text: string } | null>(null);
  if (job?.status === "done" && taken.current?.id !== job.id) {
    const c = store.cell(cell.id);
    taken.current = { id: job.id, text: c?.type === "code" ? c.source : "" };
    current.text = null;
  }
  const original = taken.current?.text ?? "";
  // The answer's panel takes the focus from the prompt box it replaces (its status is read out).
  const section = useRef<HTMLElement>(null);
  useEffect(() => section.current?.focus(), [jobId]);
  if (!state) return null;
  const close = () => {
    if (jobId) store.ai.drop(jobId);
    setState(null);
    onClose();
  };
  const label = `AI answer for ${cell.filename}`;
  if (state.mode === "setup") return <SetupPanel label={label} onClose={close} />;
  if (state.mode === "prompt")
    return (
      <div class="ai-panel">
        <PromptBox
          label={`Ask AI to change ${cell.filename}`}
          placeholder="Ask AI to change this cell…"
          onSubmit={(prompt) => {
            store.flush(cell.id); // the server edits the text it has
            const j = store.ai.start({ kind: "edit", cellId: cell.id, prompt });
            setState({ mode: "job", jobId: j.id });
          }}
          onCancel={close}
        />
      </div>
    );
  if (!job) return null;
  const r = job.result;
  const proposal = typeof r?.output === "string" ? likeOriginal(r.output, original) : undefined;
  const lang = cell.language === "typescript" ? "ts" : "js";
  const again = () => {
    store.ai.drop(job.id);
    store.flush(cell.id);
    // A fix is asked again with what the page shows now (a run or diagnostics may have changed).
    const request = job.kind === "fix" ? fixRequest(store, cell.id) : job.request;
    setState({ mode: "job", jobId: store.ai.start(request).id });
  };
  return (
    <section class="ai-panel" aria-label={label} ref={section} tabIndex={-1}>
      <JobStream jobs={store.ai} job={job} />
      {job.status === "done" && typeof proposal === "string" && (
        <>
          {job.kind === "fix" && r?.ok === false && (
            <p class="notice ai-warn" role="status">
              Did not pass after {r.steps ?? job.steps.length} steps; review before accepting.
            </p>
          )}
          {proposal === original ? (
            <p role="status">No change proposed: the cell already holds this code.</p>
          ) : (
            <ProposalDiff
              original={original}
              proposal={proposal}
              lang={lang}
              label={`Proposed code for ${cell.filename}`}
              current={current}
            />
          )}
          <div class="row">
            {proposal !== original && (
              <button
                type="button"
                class="small primary"
                onClick={() => {
                  // Typed into meanwhile: the proposal was made for the older text.
                  const now = store.cell(cell.id);
                  const changed = now?.type === "code" && now.source !== original;
                  if (
                    changed &&
                    !confirm(`${cell.filename} changed since the answer came. Replace it anyway?`)
                  )
                    return;
                  acceptEdit(store, cell.id, current.text ?? proposal);
                  close();
                }}
              >
                Accept
              </button>
            )}
            <button type="button" class="small" onClick={close}>
              Reject
            </button>
            <span class="meta">{usage(job)}</span>
          </div>
        </>
      )}
      {job.status === "done" && typeof proposal !== "string" && (
        <p class="error" role="alert">
          The answer held no code.
        </p>
      )}
      {(job.status === "failed" || (job.status === "done" && typeof proposal !== "string")) && (
        <div class="row">
          <TryAgain job={job} onClick={again} />
          <button type="button" class="small" onClick={close}>
            Close
          </button>
        </div>
      )}
    </section>
  );
}

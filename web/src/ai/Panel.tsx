// The parts every AI panel shares: a prompt box, the live answer (with Stop and "What was sent"), the fix
// attempts, failures, and the "set up AI first" note.
import { useEffect, useReducer, useRef, useState } from "preact/hooks";
import type { AiJob, AiJobs } from "./jobs";
import { describeError, waitLeft } from "./errors";
import { StreamedText } from "./Setup";
import { ToolCards } from "./ToolCards";
export { SetupNeeded } from "./Setup";

/** The job, re-rendered on each of its events. */
export function useJob(jobs: AiJobs, id: string | null) {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => (id ? jobs.watch(id, () => bump(0)) : undefined), [jobs, id]);
  return id ? jobs.get(id) : undefined;
}

export function PromptBox({
  label,
  placeholder,
  initial = "",
  submit = "Send",
  onSubmit,
  onCancel,
}: {
  label: string;
  placeholder: string;
  initial?: string;
  submit?: string;
  onSubmit: (text: string) => void;
  onCancel: () => void;
}) {
  const [text, setText] = useState(initial);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const send = (e?: Event) => {
    e?.preventDefault();
    if (text.trim()) onSubmit(text.trim());
  };
  return (
    <form class="ai-prompt stack tight" onSubmit={send}>
      <textarea
        ref={ref}
        rows={2}
        aria-label={label}
        placeholder={placeholder}
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          // Enter sends, Shift+Enter is a new line, Escape closes.
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) send(e);
          else if (e.key === "Escape") (e.preventDefault(), onCancel());
        }}
      />
      <div class="row">
        <button type="submit" class="small primary" disabled={!text.trim()}>
          {submit}
        </button>
        <button type="button" class="small" onClick={onCancel}>
          Cancel
        </button>
        <span class="meta">Enter to send, Shift+Enter for a new line</span>
      </div>
    </form>
  );
}

const isRunning = (j: AiJob) => j.status === "sending" || j.status === "streaming" || j.status === "stopping";

function statusText(j: AiJob) {
  const who = j.model ? ` (${j.model}${j.provider ? ` · ${j.provider}` : ""})` : "";
  switch (j.status) {
    case "sending":
      return "Asking the model…";
    case "streaming": {
      if (j.tools.some((t) => t.status === "waiting")) return "Waiting for your approval of a tool call…";
      const step = j.kind === "fix" && j.texts.length ? ` attempt ${j.texts.length}` : "";
      return `Writing${step}…${who}`;
    }
    case "stopping":
      return "Stopping…";
    case "done":
      return `Done${who}`;
    case "failed":
      return j.error?.code === "ai_stopped" ? "Stopped" : "Failed";
  }
}

/** What was sent to the provider (`ai:started.prompt`), folded. */
function Sent({ job }: { job: AiJob }) {
  if (!job.prompt) return null;
  return (
    <details class="ai-sent">
      <summary>What was sent</summary>
      <p class="meta">System</p>
      <pre class="ai-text">{job.prompt.system}</pre>
      <p class="meta">User</p>
      <pre class="ai-text">{job.prompt.user}</pre>
    </details>
  );
}

function Steps({ job }: { job: AiJob }) {
  if (!job.steps.length) return null;
  return (
    <ol class="ai-steps" aria-label="Fix attempts">
      {job.steps.map((s) => (
        <li key={s.step} class={s.ok ? "ok" : "fail"}>
          <strong>
            Step {s.step} of {s.maxSteps}: {s.ok ? "passed" : "did not pass"}
          </strong>{" "}
          <span class="meta">exit code {s.exitCode ?? "none"}</span>
          {s.diagnostics?.length > 0 && (
            <ul class="ai-diags">
              {s.diagnostics.map((d, i) => (
                <li key={i}>
                  <code>{d}</code>
                </li>
              ))}
            </ul>
          )}
          {s.output && (
            <details>
              <summary>Run output</summary>
              <pre class="ai-text">{s.output}</pre>
            </details>
          )}
        </li>
      ))}
    </ol>
  );
}

/** Failures the settings page can fix. */
const SETTINGS_CODES = new Set([
  "ai_not_configured",
  "ai_config",
  "ai_invalid_key",
  "ai_unknown_model",
  "ai_base_url_unresolved",
]);

export function JobError({ job }: { job: AiJob }) {
  const e = job.error;
  if (!e) return null;
  if (e.code === "ai_stopped")
    return (
      <p class="meta" role="status">
        Stopped: nothing was changed.
      </p>
    );
  return (
    <p class="error ai-error" role="alert">
      {describeError(e)} <code class="ai-code">{e.code}</code>
      {SETTINGS_CODES.has(e.code) && (
        <>
          {" "}
          <a href="/settings">Check the AI settings</a>
        </>
      )}
    </p>
  );
}

/** The live part of a job: status, Stop, what was sent, the fix attempts, the tool calls, the streamed
 * text, a failure. */
export function JobStream({ jobs, job, showText = true }: { jobs: AiJobs; job: AiJob; showText?: boolean }) {
  const text = job.texts[job.texts.length - 1] ?? "";
  return (
    <>
      <div class="row ai-head">
        <span
          class={`status ${job.status === "failed" ? "fail" : isRunning(job) ? "running" : "ok"}`}
          role="status"
        >
          {statusText(job)}
        </span>
        <span class="spacer" />
        {isRunning(job) && (
          <button
            type="button"
            class="small stop"
            onClick={() => jobs.stop(job.id)}
            disabled={job.status === "stopping"}
          >
            Stop
          </button>
        )}
      </div>
      <Sent job={job} />
      <Steps job={job} />
      <ToolCards job={job} />
      {showText && (isRunning(job) || (job.status === "failed" && text)) && (
        <StreamedText text={text} busy={isRunning(job)} label="The answer so far" />
      )}
      <JobError job={job} />
    </>
  );
}

/** "Try again", held back while the server asks to wait (`retryAfterMs`), with the seconds left. */
export function TryAgain({ job, onClick }: { job: AiJob; onClick: () => void }) {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  const left = waitLeft(job.error);
  useEffect(() => {
    if (!left) return;
    const t = setTimeout(() => bump(0), Math.min(left, 1000));
    return () => clearTimeout(t);
  });
  return (
    <button type="button" class="small" onClick={onClick} disabled={left > 0}>
      Try again{left > 0 ? ` (${Math.ceil(left / 1000)} s)` : ""}
    </button>
  );
}

export function usage(job: AiJob) {
  const r = job.result;
  if (!r) return "";
  const parts: string[] = [];
  const { inputTokens: i, outputTokens: o } = r.usage ?? {};
  if (typeof i === "number" || typeof o === "number") parts.push(`${i ?? "?"} tokens in, ${o ?? "?"} out`);
  if (typeof r.firstTokenMs === "number") parts.push(`first token after ${Math.round(r.firstTokenMs)} ms`);
  return parts.join(" · ");
}

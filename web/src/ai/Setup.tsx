// Pieces every AI surface shows the same way: the set-up note, and the text a model is streaming.
import { useEffect, useRef } from "preact/hooks";

/** The note AI buttons show while AI is not set up (no key for the provider, or custom without a base URL). */
export function SetupNeeded() {
  return (
    <p class="notice ai-setup" role="status">
      AI is not set up yet: choose a provider and give its key. <a href="/settings">Set up AI in Settings</a>
    </p>
  );
}

/** The set-up note as a cell's AI panel, with a Close button. */
export function SetupPanel({ label, onClose }: { label: string; onClose: () => void }) {
  return (
    <div class="ai-panel" role="region" aria-label={label}>
      <SetupNeeded />
      <button type="button" class="small" onClick={onClose}>
        Close
      </button>
    </div>
  );
}

/** Text as it streams in, scrolled to follow the tokens while `busy`. A named log that is not read out token
 * by token: the status line says when the answer is done. */
export function StreamedText({ text, busy, label }: { text: string; busy: boolean; label: string }) {
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const el = pre.current;
    if (el && busy) el.scrollTop = el.scrollHeight;
  }, [text, busy]);
  return (
    <pre
      class="ai-text ai-stream"
      ref={pre}
      tabIndex={0}
      role="log"
      aria-live="off"
      aria-label={label}
      aria-busy={busy}
    >
      {text || (busy ? "…" : "")}
    </pre>
  );
}

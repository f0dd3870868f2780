// JSON as the user reads it: pretty-printed, long strings wrapped, scrollable when tall.

export function pretty(value: unknown) {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A focusable (scrollable by keyboard) block of pretty JSON. */
export function JsonBlock({ value, label, class: cls }: { value: unknown; label: string; class?: string }) {
  return (
    <pre class={`ai-text json ${cls ?? ""}`} tabIndex={0} aria-label={label}>
      {pretty(value)}
    </pre>
  );
}

/** The same, folded under a summary. */
export function JsonDetails({ value, summary, open }: { value: unknown; summary: string; open?: boolean }) {
  return (
    <details class="json-details" open={open}>
      <summary>{summary}</summary>
      <JsonBlock value={value} label={summary} />
    </details>
  );
}

// Pure helpers of the notebook store's edits: what is kept in localStorage for unsaved edits, and
// reading a refusal's message.
import type { Cell } from "../api";

export type Updates = { text: string } | { source: string };

/**
 * One cell's unsaved edit as kept in localStorage: the text, the cell as it was (so a cell the server no
 * longer has can be shown again after a reload) and its position, and why the server refused it, if it did.
 */
export type Kept = { u: Updates; cell?: Cell; index?: number; refused?: { code: string; message: string } };

const key = (notebookId: string) => `quire:pending:${notebookId}`;

export function loadKept(notebookId: string): Record<string, Kept> {
  try {
    const raw = JSON.parse(localStorage.getItem(key(notebookId)) ?? "{}") as Record<string, Kept | Updates>;
    const out: Record<string, Kept> = {};
    // Earlier versions stored the updates themselves.
    for (const [id, v] of Object.entries(raw)) out[id] = "u" in v ? v : { u: v };
    return out;
  } catch {
    localStorage.removeItem(key(notebookId));
    return {};
  }
}

export function saveKept(notebookId: string, all: Record<string, Kept>) {
  if (Object.keys(all).length) localStorage.setItem(key(notebookId), JSON.stringify(all));
  else localStorage.removeItem(key(notebookId));
}

/** The cell without its run state: what a kept copy needs to be shown again. */
export function snapshot(c: Cell): Cell {
  if (c.type !== "code") return c;
  const { exitCode: _e, signal: _s, durationMs: _d, ...rest } = c;
  return { ...rest, status: "idle" };
}

export const withUpdates = (c: Cell, u: Updates) => ({ ...c, ...u }) as Cell;

/** Whether the cell already holds this text. */
export function holds(c: Cell, u: Updates) {
  return "text" in u ? "text" in c && c.text === u.text : "source" in c && c.source === u.source;
}

/** The line an `invalid_markdown` message names ("… (line 3: '# x')"). */
export function lineOf(message: string): number | undefined {
  const m = /\bline (\d+)\b/i.exec(message);
  return m ? Number(m[1]) : undefined;
}

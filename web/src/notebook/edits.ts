// Pure helpers of the notebook store's edits: what is kept in localStorage for unsaved edits, and
// reading a refusal's message.
import type { Cell, Language, Updates } from "../wire";

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

/** Cells a notebook has exactly one of: a kept edit of one whose id changed goes to the new one. */
export const single = (c: Cell | undefined) => c?.type === "title" || c?.type === "package.json";

/** What localStorage keeps for these unsaved edits. */
export function keptOf(
  cells: Cell[],
  edits: { id: string; u: Updates; refused?: { code: string; message: string } }[],
) {
  const all: Record<string, Kept> = {};
  for (const { id, u, refused } of edits) {
    const index = cells.findIndex((c) => c.id === id);
    all[id] = {
      u,
      cell: index >= 0 ? snapshot(cells[index]) : undefined,
      index,
      refused: refused && { code: refused.code, message: refused.message },
    };
  }
  return all;
}

/**
 * Kept edits applied to the server's cells: those whose cell exists are sent again (`resend`); those whose
 * cell the server no longer has come back where they were, with their text (`gone`).
 */
export function restoreKept(cells: Cell[], kept: Record<string, Kept>, language: Language) {
  const resend: [string, Updates][] = [];
  const gone: [string, Updates][] = [];
  for (const [id, k] of Object.entries(kept)) {
    const target =
      cells.find((c) => c.id === id) ??
      (single(k.cell) ? cells.find((c) => c.type === k.cell!.type) : undefined);
    if (target) {
      cells = cells.map((c) => (c.id === target.id ? withUpdates(c, k.u) : c));
      resend.push([target.id, k.u]);
      continue;
    }
    const ext = language === "typescript" ? "ts" : "js";
    const base: Cell =
      k.cell ??
      ("text" in k.u
        ? { id, type: "markdown", text: "" }
        : {
            id,
            type: "code",
            source: "",
            language,
            filename: `recovered-${id.slice(0, 6)}.${ext}`,
            status: "idle",
          });
    const at = Math.max(1, Math.min(k.index ?? cells.length, cells.length));
    cells = [...cells.slice(0, at), withUpdates(base, k.u), ...cells.slice(at)];
    gone.push([id, k.u]);
  }
  return { cells, resend, gone };
}

/** `name`, or `name-2.ts`, `name-3.ts` … whichever no code cell has. */
export function freeName(cells: Cell[], name: string) {
  const taken = new Set(cells.map((c) => (c.type === "code" ? c.filename : "")));
  if (!taken.has(name)) return name;
  const dot = name.lastIndexOf(".");
  const [base, ext] = [name.slice(0, dot), name.slice(dot)];
  let n = 2;
  while (taken.has(`${base}-${n}${ext}`)) n++;
  return `${base}-${n}${ext}`;
}

// Applying an accepted AI answer through the notebook store, like any edit (nothing is written before
// Accept), and what a "Fix" request tells the model about the cell.
import type { Cell, Diagnostic } from "../wire";
import type { NotebookStore } from "../notebook/store";

/** The proposal (or what is left of it after per-chunk choices) becomes the cell's text: saved at once
 * (`cell:update`) and shown in its editor. */
export function acceptEdit(store: NotebookStore, cellId: string, text: string) {
  return store.replaceText(cellId, { source: text });
}

/** The proposal ending as the cell's text ends (with a newline or without): the server always adds one,
 * and a diff of that alone is noise. */
export function likeOriginal(proposal: string, original: string) {
  const p = proposal.replace(/\n+$/, "");
  return original.endsWith("\n") ? `${p}\n` : p;
}

/** The cells a `generate_cells` answer proposes that a notebook can hold (code and markdown). */
export function proposedCells(cells: Cell[] | undefined) {
  return (cells ?? []).filter(
    (c): c is Extract<Cell, { type: "code" | "markdown" }> =>
      (c?.type === "code" && typeof c.source === "string") ||
      (c?.type === "markdown" && typeof c.text === "string"),
  );
}

/** Add the proposed cells at `index`, in order: one `cell:create` each. Returns the new ids. */
export function acceptCells(store: NotebookStore, index: number, cells: Cell[] | undefined) {
  return proposedCells(cells).map((c, i) =>
    c.type === "code"
      ? store.createCell(index + i, "code", false, { source: c.source, filename: c.filename })
      : store.createCell(index + i, "markdown", false, { text: c.text }),
  );
}

/** The cell's diagnostics as the page lists them: `a.ts:3:5 error TS2322: …`, one per line. */
export function diagnosticsText(filename: string, list: Diagnostic[] | undefined) {
  return (list ?? [])
    .map(
      (d) =>
        `${filename}:${d.start?.line ?? 1}:${d.start?.offset ?? 1} ${d.category ?? "error"}` +
        `${d.code ? ` TS${d.code}` : ""}: ${d.text}`,
    )
    .join("\n");
}

const OUTPUT_LIMIT = 16_000;

/** The cell's last output as the page shows it (its end, when long). */
export function outputText(store: NotebookStore, cellId: string) {
  const all = (store.outputs.get(cellId) ?? []).map((o) => o.data).join("");
  return all.length > OUTPUT_LIMIT ? all.slice(-OUTPUT_LIMIT) : all;
}

/** Whether "Fix" is offered: the cell has diagnostics, or its last run exited with a code other than 0. */
export function canFix(store: NotebookStore, cellId: string) {
  const c = store.cell(cellId);
  if (c?.type !== "code") return false;
  const failed = typeof c.exitCode === "number" && c.exitCode !== 0 && c.status !== "running";
  return failed || (store.diagnostics.get(cellId)?.length ?? 0) > 0;
}

/** The `ai:fix_diagnostics` request for the cell, from what the page shows. */
export function fixRequest(store: NotebookStore, cellId: string) {
  const c = store.cell(cellId);
  const filename = c?.type === "code" ? c.filename : "cell";
  const diagnostics = diagnosticsText(filename, store.diagnostics.get(cellId));
  const output = outputText(store, cellId);
  return {
    kind: "fix" as const,
    cellId,
    ...(diagnostics ? { diagnostics } : {}),
    ...(output ? { output } : {}),
  };
}

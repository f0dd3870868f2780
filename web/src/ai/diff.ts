// The proposal against the cell's current text: one editor holding the proposal with the current text's
// lines shown deleted above each change (`unifiedMergeView`), each change kept or undone on its own.
// @codemirror/merge loads when the first diff is shown (it is not in the notebook's chunk).
import { EditorState } from "@codemirror/state";
import { EditorView, lineNumbers } from "@codemirror/view";
import { syntaxHighlighting } from "@codemirror/language";
import { classHighlighter } from "@lezer/highlight";
import { javascript } from "@codemirror/lang-javascript";

export type DiffOptions = {
  original: string;
  proposal: string;
  lang: "ts" | "js";
  label: string;
  onChange?: (text: string) => void;
};

/** The per-change buttons: named apart from the panel's own "Accept"/"Reject" (whole proposal). */
function chunkButton(type: "accept" | "reject", action: (e: MouseEvent) => void) {
  const b = document.createElement("button");
  b.type = "button";
  b.name = type; // the merge view's theme colours them by name
  b.className = `chunk-${type}`;
  b.textContent = type === "accept" ? "Keep" : "Undo";
  b.setAttribute("aria-label", type === "accept" ? "Keep this change" : "Undo this change");
  b.onclick = action;
  return b;
}

export async function mountDiff(parent: HTMLElement, o: DiffOptions): Promise<EditorView> {
  const { unifiedMergeView } = await import("@codemirror/merge");
  const state = EditorState.create({
    doc: o.proposal,
    extensions: [
      lineNumbers(),
      syntaxHighlighting(classHighlighter),
      javascript({ typescript: o.lang === "ts" }),
      EditorView.lineWrapping,
      unifiedMergeView({
        original: o.original,
        mergeControls: chunkButton,
        gutter: true,
        highlightChanges: true,
        syntaxHighlightDeletions: true,
        collapseUnchanged: { margin: 3, minSize: 6 },
      }),
      EditorView.contentAttributes.of({ "aria-label": o.label }),
      EditorView.updateListener.of((u) => u.docChanged && o.onChange?.(u.state.doc.toString())),
    ],
  });
  return new EditorView({ state, parent });
}

/** A read-only code view (a proposed cell). */
export function readOnlyCode(parent: HTMLElement, doc: string, lang: "ts" | "js", label: string) {
  return new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        lineNumbers(),
        syntaxHighlighting(classHighlighter),
        javascript({ typescript: lang === "ts" }),
        EditorState.readOnly.of(true),
        EditorView.editable.of(false),
        EditorView.contentAttributes.of({ "aria-label": label }),
      ],
    }),
  });
}

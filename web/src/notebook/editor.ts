// CodeMirror 6 for code cells: JS/TS highlighting, and the language service over the WebSocket —
// diagnostics (squiggles + gutter), hover, completions with details, go-to-definition, signature help.
import { EditorState, Prec, type Extension } from "@codemirror/state";
import {
  EditorView,
  keymap,
  lineNumbers,
  highlightActiveLine,
  drawSelection,
  hoverTooltip,
  showTooltip,
  type Tooltip,
  ViewPlugin,
  type ViewUpdate,
  tooltips,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { classHighlighter } from "@lezer/highlight";
import { javascript } from "@codemirror/lang-javascript";
import { json } from "@codemirror/lang-json";
import {
  autocompletion,
  closeBrackets,
  closeBracketsKeymap,
  completionKeymap,
  type CompletionContext,
} from "@codemirror/autocomplete";
import { lintGutter, setDiagnostics, type Diagnostic as CmDiagnostic } from "@codemirror/lint";
import { StateEffect, StateField } from "@codemirror/state";
import {
  ClientEvent,
  type Diagnostic,
  type DisplayText,
  type LsRequestEvent,
  type LsResponses,
} from "../wire";
import type { NotebookStore } from "./store";

export type LspHooks = {
  store: NotebookStore;
  cellId: () => string;
  goTo: (target: { cellId?: string; file?: string; line: number; offset: number }) => void;
};

const plain = (t: DisplayText) => (Array.isArray(t) ? t.map((p) => p.text).join("") : (t ?? ""));

/** 1-based line and 0-based column of a document position (the protocol's request offsets). */
function location(state: EditorState, pos: number) {
  const line = state.doc.lineAt(pos);
  return { line: line.number, offset: pos - line.from };
}
/** A diagnostic's 1-based line/offset to a document position, clamped. */
function position(state: EditorState, p: { line: number; offset: number }) {
  const ln = state.doc.line(Math.min(Math.max(1, p.line), state.doc.lines));
  return Math.min(ln.to, ln.from + Math.max(0, p.offset - 1));
}

export function toCmDiagnostics(state: EditorState, list: Diagnostic[]): CmDiagnostic[] {
  return list.map((d) => {
    const from = position(state, d.start);
    const to = Math.max(from, position(state, d.end));
    const severity = d.category === "error" ? "error" : d.category === "warning" ? "warning" : "info";
    return { from, to, severity, message: d.text, source: d.code ? `TS${d.code}` : undefined };
  });
}

function lspExtensions(h: LspHooks): Extension[] {
  const enabled = () => !h.store.unsupported.has(ClientEvent.tsserverStart);
  // The server answers for the text it has: send this editor's text first (frames stay in order), or
  // `rows.` would be completed against the text before the dot.
  const ask = <E extends LsRequestEvent>(
    event: E,
    state: EditorState,
    pos: number,
  ): Promise<LsResponses[E]> => {
    h.store.flushText(h.cellId(), { source: state.doc.toString() });
    return h.store.ask(event, { cellId: h.cellId(), request: { location: location(state, pos) } });
  };
  /** A reply computed for an older text than the editor's is dropped. */
  const current =
    <T>(view: EditorView, state: EditorState) =>
    (r: T) =>
      view.state.doc === state.doc ? r : null;

  const hover = hoverTooltip(async (view, pos) => {
    if (!enabled()) return null;
    const state = view.state;
    const info = await ask(ClientEvent.quickinfo, state, pos).then(current(view, state), () => null);
    if (!info?.displayString) return null;
    return {
      pos,
      above: true,
      create: () => {
        const dom = document.createElement("div");
        dom.className = "cm-quickinfo";
        const code = document.createElement("code");
        code.textContent = info.displayString;
        dom.append(code);
        const doc = plain(info.documentation);
        if (doc) {
          const p = document.createElement("p");
          p.textContent = doc;
          dom.append(p);
        }
        return { dom };
      },
    };
  });

  const complete = async (ctx: CompletionContext) => {
    if (!enabled()) return null;
    const word = ctx.matchBefore(/[\w$]*/);
    if (
      !ctx.explicit &&
      (!word || word.from === word.to) &&
      !/[.]$/.test(ctx.state.sliceDoc(ctx.pos - 1, ctx.pos))
    )
      return null;
    const r = await ask(ClientEvent.completions, ctx.state, ctx.pos).catch(() => null);
    if (ctx.aborted || !r?.entries?.length) return null;
    return {
      from: word ? word.from : ctx.pos,
      validFor: /^[\w$]*$/,
      options: r.entries.slice(0, 500).map((e) => ({
        label: e.name,
        type:
          (
            {
              method: "method",
              function: "function",
              property: "property",
              var: "variable",
              let: "variable",
              const: "constant",
              class: "class",
              interface: "interface",
              type: "type",
              keyword: "keyword",
              module: "namespace",
            } as Record<string, string>
          )[e.kind] ?? "text",
        // Quire's language service sends `details` for the entries matching the typed word.
        detail: plain(e.details?.signature) || plain(e.detail) || e.kind,
        info:
          [
            plain(e.details?.documentation),
            e.details?.source || e.source
              ? `Auto-import from ${e.details?.source ?? plain(e.sourceDisplay) ?? e.source}`
              : "",
          ]
            .filter(Boolean)
            .join("\n\n") || undefined,
      })),
    };
  };

  // Signature help: asked for after "(" or ",", shown as a tooltip until ")" or Escape.
  const setSig = StateEffect.define<Tooltip | null>();
  const sigField = StateField.define<Tooltip | null>({
    create: () => null,
    update(v, tr) {
      for (const e of tr.effects) if (e.is(setSig)) return e.value;
      return v && tr.docChanged ? { ...v, pos: tr.changes.mapPos(v.pos) } : v;
    },
    provide: (f) => showTooltip.from(f),
  });
  const sigPlugin = ViewPlugin.fromClass(
    class {
      /** Inside a call since its `(` or `,`: every edit asks again, so a reply dropped because more was
       * typed meanwhile is followed by one for the newer text, and the highlighted argument follows. */
      inCall = false;
      update(u: ViewUpdate) {
        if (!u.docChanged || !enabled()) return;
        const pos = u.state.selection.main.head;
        const ch = u.state.sliceDoc(pos - 1, pos);
        const view = u.view;
        if (ch === ")") {
          this.inCall = false;
          return queueMicrotask(() => view.dispatch({ effects: setSig.of(null) }));
        }
        if (ch === "(" || ch === ",") this.inCall = true;
        if (!this.inCall) return;
        ask(ClientEvent.signatureHelp, u.state, pos)
          .then(current(view, u.state))
          .then((r) => {
            const item = r?.items?.[r.selectedItemIndex ?? 0];
            if (!item) return;
            const params = item.parameters.map((p, i) => {
              const t = plain(p.displayParts);
              return i === r!.argumentIndex ? `‹${t}›` : t;
            });
            const text =
              plain(item.prefixDisplayParts) +
              params.join(plain(item.separatorDisplayParts)) +
              plain(item.suffixDisplayParts);
            view.dispatch({
              effects: setSig.of({
                pos,
                above: true,
                create: () => {
                  const dom = document.createElement("div");
                  dom.className = "cm-signature";
                  dom.textContent = text;
                  return { dom };
                },
              }),
            });
          })
          .catch(() => {});
      }
    },
  );

  const definition = (view: EditorView, pos: number) => {
    if (!enabled()) return false;
    ask(ClientEvent.definition, view.state, pos)
      .then(
        (d) => d && h.goTo({ cellId: d.cellId, file: d.file, line: d.start.line, offset: d.start.offset }),
      )
      .catch(() => {});
    return true;
  };

  return [
    // First and highest: autocompletion's keymap (also highest) would otherwise take Escape first.
    Prec.highest(
      keymap.of([
        {
          key: "Escape",
          run: (v) => (v.state.field(sigField) ? (v.dispatch({ effects: setSig.of(null) }), true) : false),
        },
      ]),
    ),
    hover,
    autocompletion({ override: [complete], activateOnTyping: true }),
    sigField,
    sigPlugin,
    keymap.of([{ key: "F12", run: (v) => definition(v, v.state.selection.main.head) }]),
    EditorView.domEventHandlers({
      mousedown: (e, view) => {
        if (!(e.ctrlKey || e.metaKey)) return false;
        const pos = view.posAtCoords({ x: e.clientX, y: e.clientY });
        return pos !== null && definition(view, pos);
      },
    }),
  ];
}

export type EditorOptions = {
  doc: string;
  /** "md": markdown source, plain text with wrapped lines. */
  lang: "ts" | "js" | "json" | "md";
  label: string;
  onChange: (text: string) => void;
  onRun?: () => void;
  onEscape?: () => void;
  onRunAndAdd?: () => void;
  onFormat?: () => void;
  /** Ctrl/Cmd+K: ask AI to change the cell. */
  onAi?: () => void;
  lsp?: LspHooks;
};

export function createEditor(parent: HTMLElement, o: EditorOptions): EditorView {
  const runKeys = o.onRun
    ? [
        { key: "Shift-Enter", run: () => (o.onRun!(), true) },
        { key: "Mod-Enter", run: () => (o.onRun!(), true) },
        { key: "Alt-Enter", run: () => (o.onRunAndAdd?.(), true) },
      ]
    : [];
  const formatKeys = o.onFormat ? [{ key: "Mod-Shift-f", run: () => (o.onFormat!(), true) }] : [];
  const escapeKeys = o.onEscape ? [{ key: "Escape", run: () => (o.onEscape!(), true) }] : [];
  const aiKeys = o.onAi ? [{ key: "Mod-k", run: () => (o.onAi!(), true) }] : [];
  const state = EditorState.create({
    doc: o.doc,
    extensions: [
      // Cells are CSS-contained (fast typing in big notebooks), so tooltips live on <body>, unclipped.
      tooltips({ parent: document.body }),
      lineNumbers(),
      lintGutter(),
      history(),
      drawSelection(),
      highlightActiveLine(),
      indentOnInput(),
      bracketMatching(),
      closeBrackets(),
      syntaxHighlighting(classHighlighter),
      o.lang === "md"
        ? EditorView.lineWrapping
        : o.lang === "json"
          ? json()
          : javascript({ typescript: o.lang === "ts" }),
      o.lsp ? lspExtensions(o.lsp) : [],
      keymap.of([
        ...runKeys,
        ...formatKeys,
        ...escapeKeys,
        ...aiKeys,
        ...closeBracketsKeymap,
        ...completionKeymap,
        ...defaultKeymap,
        ...historyKeymap,
        indentWithTab,
      ]),
      EditorView.contentAttributes.of({ "aria-label": o.label }),
      EditorView.updateListener.of(
        (u) =>
          u.docChanged &&
          u.transactions.some((t) => !t.annotation(remote)) &&
          o.onChange(u.state.doc.toString()),
      ),
    ],
  });
  return new EditorView({ state, parent });
}

import { Annotation } from "@codemirror/state";
/** Marks changes that came from the server, so they are not echoed back as edits. */
export const remote = Annotation.define<boolean>();

/** Replace the document with the server's text, keeping the cursor where it can stay. */
export function setRemoteText(view: EditorView, text: string) {
  const cur = view.state.doc.toString();
  if (cur === text) return;
  // Minimal change: common prefix and suffix stay, so a cursor outside the edit does not jump.
  let start = 0;
  while (start < cur.length && start < text.length && cur[start] === text[start]) start++;
  let endA = cur.length;
  let endB = text.length;
  while (endA > start && endB > start && cur[endA - 1] === text[endB - 1]) (endA--, endB--);
  view.dispatch({
    changes: { from: start, to: endA, insert: text.slice(start, endB) },
    annotations: remote.of(true),
  });
}

export function showDiagnostics(view: EditorView, list: Diagnostic[]) {
  view.dispatch(setDiagnostics(view.state, toCmDiagnostics(view.state, list)));
}

/** Mark a whole line (1-based) as the problem the server named; no line clears the mark. */
export function showLineProblem(view: EditorView, line: number | undefined, message: string) {
  const list: CmDiagnostic[] = [];
  if (line && line <= view.state.doc.lines) {
    const l = view.state.doc.line(line);
    list.push({ from: l.from, to: Math.max(l.to, l.from), severity: "error", message });
  }
  view.dispatch(setDiagnostics(view.state, list));
}

// Editors are created a few at a time between frames, so opening a big notebook never blocks input for
// long: each task creates editors for at most ~8 ms, then yields.
const pending: (() => void)[] = [];
let scheduled = false;
function drain() {
  scheduled = false;
  const start = performance.now();
  while (pending.length && performance.now() - start < 8) pending.shift()!();
  if (pending.length) schedule();
}
function schedule() {
  if (!scheduled) {
    scheduled = true;
    setTimeout(drain, 0);
  }
}
/** Run `f` in a later task; the returned function cancels it if it has not run yet. */
export function soon(f: () => void): () => void {
  pending.push(f);
  schedule();
  return () => {
    const i = pending.indexOf(f);
    if (i >= 0) pending.splice(i, 1);
  };
}

// GitHub-flavoured markdown to HTML. Raw HTML in the source is shown as text (never executed) and only
// http(s), mailto and relative links are kept; fenced JS/TS code is highlighted with the editor's parser.
import { Marked, type Tokens } from "marked";
import { highlightCode, classHighlighter } from "@lezer/highlight";
import { javascriptLanguage, typescriptLanguage } from "@codemirror/lang-javascript";

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function highlight(code: string, lang: string): string {
  const parser = /^(ts|tsx|typescript)$/.test(lang)
    ? typescriptLanguage.parser
    : /^(js|jsx|javascript|mjs|cjs)$/.test(lang)
      ? javascriptLanguage.parser
      : null;
  if (!parser) return escape(code);
  let html = "";
  highlightCode(
    code,
    parser.parse(code),
    classHighlighter,
    (text, classes) => (html += classes ? `<span class="${classes}">${escape(text)}</span>` : escape(text)),
    () => (html += "\n"),
  );
  return html;
}

const safeHref = (href: string) =>
  /^(https?:|mailto:|\/|#|\.)/i.test(href.trim()) || !/^[a-z][a-z0-9+.-]*:/i.test(href.trim());

const marked = new Marked({
  gfm: true,
  renderer: {
    html: (t: Tokens.HTML | Tokens.Tag) => escape(t.text),
    code: (t: Tokens.Code) => {
      const lang = (t.lang ?? "").split(/\s/)[0];
      return `<pre class="md-code"><code${lang ? ` data-lang="${escape(lang)}"` : ""}>${highlight(t.text, lang)}</code></pre>`;
    },
    link(t: Tokens.Link) {
      const text = this.parser.parseInline(t.tokens);
      if (!safeHref(t.href)) return text;
      const title = t.title ? ` title="${escape(t.title)}"` : "";
      return `<a href="${escape(t.href)}"${title} rel="noopener noreferrer">${text}</a>`;
    },
    image(t: Tokens.Image) {
      if (!safeHref(t.href)) return escape(t.text);
      return `<img src="${escape(t.href)}" alt="${escape(t.text)}" loading="lazy">`;
    },
  },
});

export const renderMarkdown = (src: string) => marked.parse(src, { async: false }) as string;

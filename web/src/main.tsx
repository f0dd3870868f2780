import { render } from "preact";
import { lazy, Suspense } from "preact/compat";
import { useEffect, useState } from "preact/hooks";
import { prefetchSession, setUnauthorizedHandler } from "./api";
import { currentPath, onRoute } from "./router";
import { Home } from "./pages/Home";
import { Login } from "./pages/Login";
import { Secrets } from "./pages/Secrets";
import { Shortcuts } from "./pages/Shortcuts";
import { ConnectionBanner } from "./pages/Banner";
import "./styles.css";

// Code split: CodeMirror and markdown only load on the notebook route; tus only on the files page;
// the dashboard only on /admin; the settings (with the AI section) only on /settings.
let notebookChunk = false;
const Notebook = lazy(() => import("./notebook/Notebook").then((m) => ((notebookChunk = true), m)));
const Files = lazy(() => import("./pages/Files"));
const Admin = lazy(() => import("./pages/Admin"));
const Settings = lazy(() => import("./pages/Settings").then((m) => ({ default: m.Settings })));

function Route({ path }: { path: string }) {
  const nb = /^\/srcbooks\/([^/]+)\/?$/.exec(path);
  if (nb) {
    // Only while the chunk downloads: the Notebook page takes this request when it mounts.
    if (!notebookChunk) prefetchSession(decodeURIComponent(nb[1]));
    return <Notebook id={decodeURIComponent(nb[1])} />;
  }
  switch (path.replace(/\/$/, "") || "/") {
    case "/":
      return <Home />;
    case "/secrets":
      return <Secrets />;
    case "/settings":
      return <Settings />;
    case "/storage":
      return <Files />;
    case "/admin":
      return <Admin />;
    default:
      return (
        <main id="main" class="page">
          <h1>Not found</h1>
          <p>
            There is no page at <code>{path}</code>. <a href="/">Go to your notebooks</a>.
          </p>
        </main>
      );
  }
}

function Nav({ path }: { path: string }) {
  const link = (href: string, label: string) => (
    <a href={href} aria-current={path === href ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <header class="topbar">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <a href="/" class="brand" aria-label="Quire home">
        Quire
      </a>
      <nav aria-label="Main">
        {link("/", "Notebooks")}
        {link("/storage", "Files")}
        {link("/secrets", "Secrets")}
        {link("/settings", "Settings")}
        {link("/admin", "Dashboard")}
      </nav>
    </header>
  );
}

function App() {
  const [path, setPath] = useState(currentPath());
  const [authed, setAuthed] = useState(true);
  const [help, setHelp] = useState(false);
  useEffect(() => onRoute(setPath), []);
  useEffect(() => setUnauthorizedHandler(() => setAuthed(false)), []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      const typing =
        t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) || t.closest(".cm-editor");
      if (e.key === "?" && !typing) {
        e.preventDefault();
        setHelp((h) => !h);
      } else if (e.key === "Escape") setHelp(false);
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);
  if (!authed) return <Login />;
  return (
    <>
      <Nav path={path} />
      <ConnectionBanner />
      <Suspense
        fallback={
          <main id="main" class="page" aria-busy="true">
            <p>Loading…</p>
          </main>
        }
      >
        <Route path={path} />
      </Suspense>
      {help && <Shortcuts onClose={() => setHelp(false)} />}
    </>
  );
}

render(<App />, document.getElementById("app")!);

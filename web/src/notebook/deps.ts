// Which packages a notebook lacks: imported but not declared (`missing`), declared but not installed
// (`notInstalled`), and the last install's outcome. The server is asked (`deps:validate`) on opening, as
// soon as a cell's imports or package.json change, and after an install — not only after a failed run.
import { ClientEvent, type Cell } from "../wire";

/** Bare package names a cell imports (a cheap scan: the server decides with a real parser). */
export function importsOf(source: string): string {
  const names = new Set<string>();
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"'\n]+)["']/g;
  for (const m of source.matchAll(re)) {
    const spec = m[1];
    if (/^(\.|\/|node:|[a-z]+:)/.test(spec)) continue;
    names.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]);
  }
  return [...names].sort().join(",");
}

/**
 * Packages the editor or the server's tooling installs by itself when needed (prettier on the first
 * format; TypeScript and its types come with the language service; tsx is never used to run cells), so a
 * notebook that declares only these has nothing the user must install.
 */
const TOOLING = /^(prettier|typescript|tsx|@types\/.*)$/;

/** Declared runtime dependencies the user would have to install (tooling left out). */
export function userDependencies(packageJson: string): string[] {
  try {
    const pkg = JSON.parse(packageJson);
    const names = ["dependencies", "devDependencies"].flatMap((k) => Object.keys(pkg?.[k] ?? {}));
    return names.filter((n) => !TOOLING.test(n));
  } catch {
    return [];
  }
}

export const isTooling = (name: string) => TOOLING.test(name);

const VALIDATE_DELAY = 400;

export type DepsIo = {
  send: (event: typeof ClientEvent.depsValidate, payload: Record<string, never>) => void;
  /** Resolves once the server handled every frame sent before it. */
  barrier: () => Promise<void>;
  cells: () => Cell[];
  changed: () => void;
};

export class Deps {
  missing: string[] = [];
  notInstalled: string[] = [];
  /** The last `deps:install` of this page: its outcome once it ended. */
  install: { state: "running" | "ok" | "failed"; exitCode?: number | null } | null = null;
  private imports = new Map<string, string>();
  private timer = 0;
  private answer: { missing: boolean; outOfSync: boolean } | null = null;

  constructor(private io: DepsIo) {
    for (const c of io.cells()) if (c.type === "code") this.imports.set(c.id, importsOf(c.source));
  }

  /** An edit of this cell went out: a changed import or package.json asks the server again. */
  sent(cell: Cell | undefined, text: string) {
    if (cell?.type === "package.json") return this.soon();
    if (cell?.type !== "code") return;
    const now = importsOf(text);
    if (now === (this.imports.get(cell.id) ?? "")) return;
    this.imports.set(cell.id, now);
    this.soon();
  }

  private soon() {
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.validate(), VALIDATE_DELAY);
  }

  /**
   * `deps:validate` answers only when something is wrong, so a `ping` after it marks the end of the
   * answer: whatever was not reported by then is fine now.
   */
  validate() {
    const answer = (this.answer = { missing: false, outOfSync: false });
    this.io.send(ClientEvent.depsValidate, {});
    this.io.barrier().then(
      () => {
        if (this.answer !== answer) return;
        this.answer = null;
        if (!answer.missing) this.missing = [];
        if (!answer.outOfSync) this.notInstalled = [];
        this.io.changed();
      },
      () => {},
    );
  }

  /** `deps:validate:response`, to this page or broadcast after a run. */
  response(p: { packages?: string[]; notInstalled?: string[] }) {
    if (Array.isArray(p?.packages)) {
      this.missing = p.packages;
      if (this.answer) this.answer.missing = true;
      return;
    }
    if (this.answer) this.answer.outOfSync = true;
    // Srcbook's `{}` does not say which: Quire's `notInstalled` does; else what package.json declares.
    const pkg = this.io.cells().find((c) => c.type === "package.json");
    this.notInstalled = Array.isArray(p?.notInstalled)
      ? p.notInstalled.filter((n) => !isTooling(n))
      : pkg?.type === "package.json"
        ? userDependencies(pkg.source)
        : [];
  }

  installing() {
    this.missing = [];
    this.notInstalled = [];
    this.install = { state: "running" };
  }

  installed(exitCode: number | null, failed: boolean) {
    this.install = { state: exitCode === 0 && !failed ? "ok" : "failed", exitCode };
    this.validate();
  }
}

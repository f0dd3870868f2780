// Run all, one code cell at a time in notebook order, from the page (not the server's `cell:exec_all`):
// the page always knows which cell is running, so Stop ends that run and nothing after it starts, and a
// long-running cell never leaves the toolbar stuck — Stop is there for as long as it runs.
import type { Cell } from "../wire";

export type RunAllIo = {
  cells: () => Cell[];
  runnable: (id: string) => boolean;
  /** Start a run; false if it could not start. */
  run: (id: string) => boolean;
  stop: (id: string) => void;
  changed: () => void;
};

export class RunAll {
  active = false;
  /** The cell being run now. */
  current: string | undefined;
  private stopping = false;
  private waiter: { id: string; done: (ok: boolean) => void } | null = null;

  constructor(private io: RunAllIo) {}

  async start() {
    if (this.active) return;
    this.active = true;
    this.stopping = false;
    this.io.changed();
    try {
      const ids = this.io
        .cells()
        .filter((c) => c.type === "code")
        .map((c) => c.id);
      for (const id of ids) {
        if (this.stopping) break;
        if (!this.io.runnable(id)) continue;
        this.current = id;
        this.io.changed();
        if (!(await this.runOne(id))) break;
      }
    } finally {
      this.active = false;
      this.current = undefined;
      this.waiter = null;
      this.io.changed();
    }
  }

  stop() {
    if (!this.active) return;
    this.stopping = true;
    if (this.current) this.io.stop(this.current);
    this.io.changed();
  }

  private runOne(id: string) {
    return new Promise<boolean>((resolve) => {
      this.waiter = { id, done: resolve };
      const c = this.io.cells().find((x) => x.id === id);
      // Already running (started elsewhere): wait for that run's outcome.
      if (c?.type === "code" && c.status === "running") return;
      if (!this.io.run(id)) resolve(false);
    });
  }

  /** A cell's run ended (or, after a reconnect, it is found not running): go on only after exit 0. */
  settle(cell: Cell) {
    if (this.waiter?.id !== cell.id || cell.type !== "code" || cell.status === "running") return;
    this.waiter.done(cell.exitCode === 0 && !cell.signal);
  }

  /** The server refused to start that cell's run. */
  refused(id: string) {
    if (this.waiter?.id === id) this.waiter.done(false);
  }
}

import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api";
import type { AdminStats as Stats, AiBreaker, AiUsage } from "../wire";

// The admin dashboard: live figures the server computes itself (GET /api/admin/stats), polled every
// 2 s while the tab is visible. No chart library: the sparklines are plain inline SVG.
const POLL_MS = 2000;

const num = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 2 });

const bytes = (n: number | null) => {
  if (n === null) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) ((n /= 1024), i++);
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
};

const ms = (v: number | null) => {
  if (v === null) return "—";
  if (v >= 1000) return `${(v / 1000).toFixed(2)} s`;
  return `${v < 1 ? v.toFixed(2) : v.toFixed(1)} ms`;
};

const duration = (s: number) => {
  const d = Math.floor(s / 86400),
    h = Math.floor((s % 86400) / 3600),
    m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
};

const BREAKER: Record<AiBreaker["state"], string> = {
  closed: "working",
  open: "paused after failures",
  half_open: "probing",
};

/** AI calls by provider and model, and each provider endpoint's circuit breaker. */
function AiPanel({ breakers, usage }: { breakers: AiBreaker[]; usage: AiUsage[] }) {
  return (
    <section class="card stack dash-ai" aria-labelledby="dash-ai">
      <h2 id="dash-ai">AI</h2>
      {usage.length === 0 ? (
        <p class="meta">No AI calls since the server started.</p>
      ) : (
        <div class="table-wrap">
          <table class="dash-table">
            <caption class="sr-only">AI calls by provider and model</caption>
            <thead>
              <tr>
                <th scope="col">Provider · model</th>
                <th scope="col">Calls</th>
                <th scope="col">Failed</th>
                <th scope="col">Tokens in / out</th>
                <th scope="col">First token (p50)</th>
              </tr>
            </thead>
            <tbody>
              {usage.map((u) => (
                <tr key={`${u.provider}/${u.model}`} data-ai-model={u.model}>
                  <th scope="row">
                    {u.provider} · {u.model}
                  </th>
                  <td>{num(u.requests)}</td>
                  <td class={u.errors ? "warn" : undefined}>{num(u.errors)}</td>
                  <td>
                    {num(u.inputTokens)} / {num(u.outputTokens)}
                  </td>
                  <td>{ms(u.firstTokenMsP50)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {breakers.length > 0 && (
        <ul class="plain">
          {breakers.map((b) => (
            <li key={b.baseUrl} data-breaker={b.state} class={b.state === "closed" ? undefined : "warn"}>
              {b.provider} ({b.baseUrl}): {BREAKER[b.state]}
              {b.consecutiveFailures ? `, ${b.consecutiveFailures} failures in a row` : ""}
              {b.retryInMs !== null ? `, next try in ${duration(Math.ceil(b.retryInMs / 1000))}` : ""}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** A line over the last minute; `null` points (no requests that second) leave a gap. */
function Sparkline({
  values,
  label,
  unit,
}: {
  values: (number | null)[];
  label: string;
  unit: (v: number) => string;
}) {
  const W = 120,
    H = 32;
  const present = values.filter((v): v is number => v !== null);
  const max = Math.max(...present, 0);
  const step = W / Math.max(values.length - 1, 1);
  const y = (v: number) => (max > 0 ? H - 1 - (v / max) * (H - 2) : H - 1);
  const segments: string[] = [];
  let run: string[] = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (run.length) segments.push(run.join(" "));
      run = [];
    } else run.push(`${(i * step).toFixed(1)},${y(v).toFixed(1)}`);
  });
  if (run.length) segments.push(run.join(" "));
  const latest = present.length ? unit(present[present.length - 1]) : "no data";
  const summary = present.length
    ? `${label} over the last minute: highest ${unit(max)}, lowest ${unit(Math.min(...present))}, latest ${latest}`
    : `${label} over the last minute: no requests yet`;
  return (
    <figure class="spark-fig">
      <figcaption class="meta">
        {label} · last minute · peak {present.length ? unit(max) : "—"}
      </figcaption>
      <svg class="spark" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={summary}>
        <line class="spark-base" x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} />
        {/* A lone point is drawn as a zero-length line with round caps: a dot. */}
        {segments.map((pts) => (
          <polyline points={pts.includes(" ") ? pts : `${pts} ${pts}`} />
        ))}
      </svg>
    </figure>
  );
}

function Stat({ label, value, id, warn }: { label: string; value: string; id?: string; warn?: boolean }) {
  return (
    <div class={warn ? "stat warn" : "stat"}>
      <dt>{label}</dt>
      <dd data-testid={id}>{value}</dd>
    </div>
  );
}

export default function Admin() {
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState("");
  const [paused, setPaused] = useState(false);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    document.title = "Dashboard · Quire";
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // One request at a time: the next poll is scheduled when the previous one has answered.
    const poll = async () => {
      if (!alive) return;
      if (!pausedRef.current && document.visibilityState === "visible") {
        try {
          const s = await api.adminStats();
          if (!alive) return;
          setStats(s);
          setError("");
        } catch (e) {
          if (alive) setError((e as Error).message);
        }
      }
      if (alive) timer = setTimeout(poll, POLL_MS);
    };
    poll();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, []);

  const head = (
    <div class="list-head">
      <h1>Dashboard</h1>
      <button type="button" aria-pressed={paused} onClick={() => setPaused(!paused)}>
        {paused ? "Resume updates" : "Pause updates"}
      </button>
    </div>
  );
  if (!stats)
    return (
      <main id="main" class="page">
        {head}
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : (
          <p aria-busy="true">Loading…</p>
        )}
      </main>
    );
  const { requests: r, latencyMs: l, errors: e, runtime: rt, storage: st, process: p } = stats;
  const diskLow = st.diskFreeBytes !== null && st.diskFreeBytes < st.diskLowBytes;
  const stored =
    st.fileBytes && st.chunkBytes
      ? ` (${num(st.fileBytes / st.chunkBytes)}× saved by dedup and compression)`
      : "";
  return (
    <main id="main" class="page">
      {head}
      <p class="meta">
        Live figures from this server, updated every 2 s{paused ? " (paused)" : ""}. Last update{" "}
        <time dateTime={new Date(stats.timestamp).toISOString()}>
          {new Date(stats.timestamp).toLocaleTimeString()}
        </time>{" "}
        · up {duration(stats.uptimeSeconds)} · Quire {stats.version}
      </p>
      {error && (
        <p class="error" role="alert">
          Update failed: {error}. Showing the last figures.
        </p>
      )}
      <div class="dash">
        <section class="card stack" aria-labelledby="dash-traffic">
          <h2 id="dash-traffic">Requests</h2>
          <dl class="stats">
            <Stat id="rps-10s" label="Per second (10 s)" value={num(r.perSecond10s)} />
            <Stat id="rps-60s" label="Per second (1 min)" value={num(r.perSecond60s)} />
            <Stat id="requests-60s" label="Last minute" value={num(r.last60s)} />
            <Stat id="requests-total" label="Since start" value={num(r.total)} />
          </dl>
          <Sparkline values={stats.series.requests} label="Requests per second" unit={(v) => `${num(v)}/s`} />
        </section>
        <section class="card stack" aria-labelledby="dash-latency">
          <h2 id="dash-latency">Latency (last minute)</h2>
          <dl class="stats">
            <Stat id="p50" label="Median (p50)" value={ms(l.p50)} />
            <Stat id="p95" label="p95" value={ms(l.p95)} />
            <Stat id="p99" label="p99" value={ms(l.p99)} />
            <Stat label="Slowest" value={ms(l.max)} />
          </dl>
          <Sparkline values={stats.series.p95Ms} label="p95 latency" unit={(v) => ms(v)} />
        </section>
        <section class="card stack" aria-labelledby="dash-errors">
          <h2 id="dash-errors">Errors</h2>
          <dl class="stats">
            <Stat id="errors-4xx-60s" label="Client (4xx), last minute" value={num(e.clientLast60s)} />
            <Stat
              id="errors-5xx-60s"
              label="Server (5xx), last minute"
              value={num(e.serverLast60s)}
              warn={e.serverLast60s > 0}
            />
            <Stat id="errors-4xx-total" label="Client (4xx), since start" value={num(e.clientTotal)} />
            <Stat label="Server (5xx), since start" value={num(e.serverTotal)} />
          </dl>
        </section>
        <section class="card stack" aria-labelledby="dash-activity">
          <h2 id="dash-activity">Activity</h2>
          <dl class="stats">
            <Stat id="active-runs" label="Cells running" value={num(rt.activeRuns)} />
            <Stat label="Node hosts" value={num(rt.nodeHosts)} />
            <Stat label="Language services" value={num(rt.languageServices)} />
            <Stat
              id="ws-connections"
              label="WebSocket connections"
              value={num(stats.websocket.connections)}
            />
          </dl>
        </section>
        <section class="card stack" aria-labelledby="dash-storage">
          <h2 id="dash-storage">Storage</h2>
          <dl class="stats">
            <Stat
              id="notebooks"
              label="Notebooks"
              value={num(st.notebooks) + (st.notebooksFailed ? ` (${st.notebooksFailed} unreadable)` : "")}
              warn={st.notebooksFailed > 0}
            />
            <Stat id="files" label="Stored files" value={st.files === null ? "—" : num(st.files)} />
            <Stat label="File bytes" value={bytes(st.fileBytes)} />
            <Stat label="On disk (chunks)" value={bytes(st.chunkBytes)} />
            <Stat
              id="disk-free"
              label="Free disk"
              value={bytes(st.diskFreeBytes) + (diskLow ? " (low)" : "")}
              warn={diskLow}
            />
          </dl>
          {stored && <p class="meta">{`${num(st.chunks ?? 0)} chunks${stored}`}</p>}
        </section>
        <section class="card stack" aria-labelledby="dash-process">
          <h2 id="dash-process">Process</h2>
          <dl class="stats">
            <Stat id="rss" label="Memory (RSS)" value={bytes(p.rssBytes)} />
            <Stat label="Open files" value={p.openFds === null ? "—" : num(p.openFds)} />
            <Stat label="Uptime" value={duration(stats.uptimeSeconds)} />
          </dl>
        </section>
        <AiPanel breakers={stats.ai.breakers} usage={stats.ai.usage} />
      </div>
    </main>
  );
}

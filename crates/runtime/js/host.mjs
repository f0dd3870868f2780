// Quire's cell host: one Node process per notebook. Each run gets a fresh worker thread (so a fresh
// module graph and globals); idle workers are started ahead of time so a run never waits for Node to boot.
// A run's output goes straight from its worker to Quire through a per-run FIFO, written synchronously,
// so even a busy synchronous loop streams (a worker's own stdout only flushes when its event loop turns).
// The host dies with its whole process group as soon as Quire's socket closes, so no run outlives Quire.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { Worker } from 'node:worker_threads';

const [sockPath, workerPath, cfgJson] = process.argv.slice(2);
const cfg = JSON.parse(cfgJson);
const STDOUT = 1, STDERR = 2, EXIT = 3, RUN = 10, STOP = 11, MUTE = 12, SPAWN = 13;

const sock = net.createConnection(sockPath);
sock.setNoDelay?.(true);
function die() {
  try { process.kill(-process.pid, 'SIGKILL'); } catch {}
  process.exit(137);
}
sock.on('close', die);
sock.on('error', die);

function send(kind, id, payload) {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.allocUnsafe(9);
  head.writeUInt32BE(5 + body.length, 0);
  head.writeUInt8(kind, 4);
  head.writeUInt32BE(id, 5);
  if (body.length < 16384) return sock.write(Buffer.concat([head, body]));
  sock.write(head);
  return sock.write(body);
}

const idle = [];
const queue = [];
const runs = new Map();
let booting = 0;

// A worker slot: one worker thread, and the run it is doing (if any). A worker whose run ended cleanly
// and provably left nothing behind (see worker.cjs) says `done` instead of exiting, and takes the next
// run; every other run ends its worker.
function boot() {
  booting++;
  const w = new Worker(workerPath, {
    stdout: true,
    stderr: true,
    resourceLimits: { maxOldGenerationSizeMb: cfg.memoryMb },
  });
  const slot = { w, run: null, ready: false, exited: false };
  const forward = (kind) => (chunk) => {
    const run = slot.run;
    if (!run || run.muted) return;
    if (!send(kind, run.id, chunk)) {
      w.stdout.pause();
      w.stderr.pause();
      sock.once('drain', () => { w.stdout.resume(); w.stderr.resume(); });
    }
  };
  w.stdout.on('data', forward(STDOUT));
  w.stderr.on('data', forward(STDERR));
  w.on('error', (e) => {
    if (slot.run) slot.run.error = e;
    else if (!slot.ready) process.stderr.write(`quire host: worker failed to start: ${inspect(e)}\n`);
  });
  w.on('message', (m) => {
    if (m === 'ready') {
      booting--;
      slot.ready = true;
      idle.push(slot);
      dispatch();
    } else if (m && m.done && slot.run) {
      const run = slot.run;
      slot.run = null;
      finish(run, m.code);
      if (!slot.exited) idle.unshift(slot);
      dispatch();
    }
  });
  w.once('exit', (code) => {
    slot.exited = true;
    if (!slot.ready) booting--;
    const at = idle.indexOf(slot);
    if (at >= 0) idle.splice(at, 1);
    const run = slot.run;
    slot.run = null;
    if (run) {
      // Output a worker wrote through its own stdout arrives before its streams end.
      const ended = (st) => new Promise((r) => (st.readableEnded ? r() : st.once('end', r).once('close', r)));
      Promise.all([ended(w.stdout), ended(w.stderr)]).then(() => finish(run, code));
    }
    setTimeout(refill, run ? 0 : 100);
  });
}

function refill() {
  while (idle.length + booting < cfg.pool) boot();
}

function dispatch() {
  while (idle.length && queue.length) start(queue.shift(), idle.shift());
  refill();
}

function start(job, slot) {
  let fd = -1;
  try {
    fd = fs.openSync(job.fifo, 'w');
  } catch (e) {
    process.stderr.write(`quire host: cannot open output pipe: ${e}\n`);
  }
  const mute = new Int32Array(new SharedArrayBuffer(4));
  const run = { id: job.id, slot, fd, muted: false, mute, stopped: false, error: undefined };
  runs.set(job.id, run);
  slot.run = run;
  slot.w.postMessage({ url: job.url, env: job.env, fd, mute, recyclable: job.recyclable === true });
}

function finish(run, code) {
  // The error travels in the exit frame so Quire shows it after the run's last output.
  const error = run.error !== undefined && !run.stopped && !run.muted ? `${formatError(run.error)}\n` : null;
  if (run.fd >= 0) fs.closeSync(run.fd);
  send(EXIT, run.id, JSON.stringify({ code, stopped: run.stopped, error }));
  runs.delete(run.id);
}

// As in worker.cjs: frames of the notebook's files are shown relative to it (`src/<cell>.ts:3:7`).
const here = [...new Set([process.cwd(), fs.realpathSync(process.cwd())])];
const prefixes = here.flatMap((d) => [pathToFileURL(d).href + '/', d + '/']);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const FRAME = new RegExp(`(\\bat (?:[^\\n(]*\\()?)(?:${prefixes.map(escape).join('|')})`, 'g');

// `inspect` shows an error's stack, its own properties and its cause, each once (an error without
// frames, such as an fs promise's, printed its message twice when stack and inspect were joined).
function formatError(e) {
  const text = e instanceof Error || (e && typeof e === 'object' && typeof e.stack === 'string')
    ? inspect(e)
    : `Uncaught ${inspect(e)}`;
  return text.replace(FRAME, '$1');
}

// Programs Quire runs for the notebook (npm, prettier): children of the host, so they share its
// sandbox; output and exit travel as a run's would. A first stop sends SIGTERM, a second SIGKILL.
const procs = new Map();

function spawnProcess(id, msg) {
  let child;
  try {
    child = spawn(msg.cmd, msg.args, { env: { ...process.env, ...msg.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    send(EXIT, id, JSON.stringify({ code: null, error: `cannot start ${msg.cmd}: ${e.message}\n` }));
    return;
  }
  const proc = { child, stops: 0, failed: null };
  procs.set(id, proc);
  for (const [stream, kind] of [[child.stdout, STDOUT], [child.stderr, STDERR]]) {
    stream.on('data', (chunk) => {
      if (!send(kind, id, chunk)) {
        stream.pause();
        sock.once('drain', () => stream.resume());
      }
    });
  }
  child.stdin.on('error', () => {});
  child.stdin.end(msg.input ?? undefined);
  child.on('error', (e) => { proc.failed = e; });
  child.on('close', (code, signal) => {
    procs.delete(id);
    const error = proc.failed ? `cannot run ${msg.cmd}: ${proc.failed.message}\n` : null;
    send(EXIT, id, JSON.stringify({ code, signal, stopped: proc.stops > 0, error }));
  });
}

function onFrame(kind, id, body) {
  if (kind === SPAWN) {
    spawnProcess(id, JSON.parse(body.toString()));
  } else if (kind === RUN) {
    const msg = JSON.parse(body.toString());
    queue.push({ id, url: msg.url, env: msg.env, fifo: msg.fifo, recyclable: msg.recyclable });
    dispatch();
  } else if (kind === STOP) {
    const proc = procs.get(id);
    if (proc) {
      proc.child.kill(proc.stops++ === 0 ? 'SIGTERM' : 'SIGKILL');
      return;
    }
    const at = queue.findIndex((j) => j.id === id);
    if (at >= 0) {
      queue.splice(at, 1);
      send(EXIT, id, JSON.stringify({ code: null, stopped: true }));
    }
    const run = runs.get(id);
    if (run) {
      run.stopped = true;
      run.slot.w.terminate();
    }
  } else if (kind === MUTE) {
    const run = runs.get(id);
    if (run) {
      run.muted = true;
      Atomics.store(run.mute, 0, 1);
    }
  }
}

let pending = Buffer.alloc(0);
sock.on('data', (chunk) => {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  while (pending.length >= 4) {
    const len = pending.readUInt32BE(0);
    if (pending.length < 4 + len) break;
    onFrame(pending.readUInt8(4), pending.readUInt32BE(5), pending.subarray(9, 4 + len));
    pending = pending.subarray(4 + len);
  }
});

refill();

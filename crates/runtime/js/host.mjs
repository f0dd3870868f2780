// Quire's cell host: one Node process per notebook. Each run gets a fresh worker thread (so a fresh
// module graph and globals); idle workers are started ahead of time so a run never waits for Node to boot.
// A run's output goes straight from its worker to Quire through a per-run FIFO, written synchronously,
// so even a busy synchronous loop streams (a worker's own stdout only flushes when its event loop turns).
// The host dies with its whole process group as soon as Quire's socket closes, so no run outlives Quire.
import fs from 'node:fs';
import net from 'node:net';
import { inspect } from 'node:util';
import { Worker } from 'node:worker_threads';

const [sockPath, workerPath, cfgJson] = process.argv.slice(2);
const cfg = JSON.parse(cfgJson);
const STDOUT = 1, STDERR = 2, EXIT = 3, RUN = 10, STOP = 11, MUTE = 12;

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

function boot() {
  booting++;
  const w = new Worker(workerPath, {
    stdout: true,
    stderr: true,
    resourceLimits: { maxOldGenerationSizeMb: cfg.memoryMb },
  });
  let ready = false;
  w.once('message', () => {
    booting--;
    ready = true;
    idle.push(w);
    dispatch();
  });
  w.once('exit', () => {
    if (!ready) booting--;
    const at = idle.indexOf(w);
    if (at >= 0) idle.splice(at, 1);
    if (!ready || at >= 0) setTimeout(refill, 100);
  });
  w.on('error', (e) => { if (!ready) process.stderr.write(`quire host: worker failed to start: ${inspect(e)}\n`); });
}

function refill() {
  while (idle.length + booting < cfg.pool) boot();
}

function dispatch() {
  while (idle.length && queue.length) start(queue.shift(), idle.shift());
  refill();
}

function start(job, w) {
  let fd = -1;
  try {
    fd = fs.openSync(job.fifo, 'w');
  } catch (e) {
    process.stderr.write(`quire host: cannot open output pipe: ${e}\n`);
  }
  const mute = new Int32Array(new SharedArrayBuffer(4));
  const run = { w, muted: false, mute, stopped: false, error: undefined };
  runs.set(job.id, run);
  const streams = [w.stdout, w.stderr];
  const forward = (kind) => (chunk) => {
    if (run.muted) return;
    if (!send(kind, job.id, chunk)) {
      for (const s of streams) s.pause();
      sock.once('drain', () => { for (const s of streams) s.resume(); });
    }
  };
  w.stdout.on('data', forward(STDOUT));
  w.stderr.on('data', forward(STDERR));
  w.on('error', (e) => { run.error = e; });
  const ended = (s) => new Promise((r) => (s.readableEnded ? r() : s.once('end', r).once('close', r)));
  const exited = new Promise((r) => w.once('exit', r));
  Promise.all([exited, ended(w.stdout), ended(w.stderr)]).then(([code]) => {
    // The error travels in the exit frame so Quire shows it after the run's last output.
    const error = run.error !== undefined && !run.stopped && !run.muted ? `${formatError(run.error)}\n` : null;
    if (fd >= 0) fs.closeSync(fd);
    send(EXIT, job.id, JSON.stringify({ code, stopped: run.stopped, error }));
    runs.delete(job.id);
  });
  w.postMessage({ url: job.url, env: job.env, fd, mute });
}

function formatError(e) {
  if (e && typeof e === 'object' && typeof e.stack === 'string') {
    const extra = inspect(e).split('\n').filter((l) => !e.stack.includes(l));
    return [e.stack, ...extra].join('\n');
  }
  return `Uncaught ${inspect(e)}`;
}

function onFrame(kind, id, body) {
  if (kind === RUN) {
    const msg = JSON.parse(body.toString());
    queue.push({ id, url: msg.url, env: msg.env, fifo: msg.fifo });
    dispatch();
  } else if (kind === STOP) {
    const at = queue.findIndex((j) => j.id === id);
    if (at >= 0) {
      queue.splice(at, 1);
      send(EXIT, id, JSON.stringify({ code: null, stopped: true }));
    }
    const run = runs.get(id);
    if (run) {
      run.stopped = true;
      run.w.terminate();
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

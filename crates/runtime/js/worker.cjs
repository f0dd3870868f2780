// One run of one cell: wait for the job, take the run's environment and output pipe, import the cell.
// The worker exits like a Node process would: when its event loop is empty, or at process.exit().
// CommonJS on purpose: a CommonJS worker boots faster than an ES module one (no ESM loader at start),
// and boot time is what a back-to-back run waits for when the idle pool runs dry.
'use strict';
const fs = require('node:fs');
const { parentPort } = require('node:worker_threads');

const MAX_FRAME = 1 << 20;

// Stack frames of the notebook's own files read `src/<cell>.ts:line:col` (and `node_modules/…`),
// not the data dir's absolute path: shorter, and the same on every machine.
const { pathToFileURL } = require('node:url');
const here = [...new Set([process.cwd(), fs.realpathSync(process.cwd())])];
const prefixes = here.flatMap((d) => [pathToFileURL(d).href + '/', d + '/']);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const FRAME = new RegExp(`(\\bat (?:[^\\n(]*\\()?)(?:${prefixes.map(escape).join('|')})`, 'g');
const shortenFrames = (text) => (text.includes('at ') ? text.replace(FRAME, '$1') : text);

// Output frames: u32 length | u8 stream (1 stdout, 2 stderr) | u32 0 | bytes. Written synchronously, so
// output streams while a synchronous loop runs, and a full pipe holds the writer back.
function redirect(stream, kind, fd, mute) {
  stream.write = function write(chunk, encoding, cb) {
    if (typeof encoding === 'function') [cb, encoding] = [encoding, undefined];
    if (Atomics.load(mute, 0) === 0) {
      const bytes = typeof chunk === 'string'
        ? Buffer.from(shortenFrames(chunk), encoding)
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      for (let at = 0; at < bytes.length; at += MAX_FRAME) {
        const part = bytes.subarray(at, at + MAX_FRAME);
        const frame = Buffer.allocUnsafe(9 + part.length);
        frame.writeUInt32BE(5 + part.length, 0);
        frame.writeUInt8(kind, 4);
        frame.writeUInt32BE(0, 5);
        part.copy(frame, 9);
        for (let off = 0; off < frame.length;) off += fs.writeSync(fd, frame, off);
      }
    }
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  };
}

// Recycling: a worker may take another run only if this one ended with exit code 0, imported no
// package (Quire decides that from the import graph: \`recyclable\`), and left no trace that later code
// could see: the same globals, the same built-in prototypes and statics, the same process listeners.
// Each run imports its cells from a fresh directory, so module state never carries over either.
const WATCHED = [
  globalThis, Object, Object.prototype, Array, Array.prototype, Function.prototype, String, String.prototype,
  Number, Number.prototype, Boolean.prototype, Symbol, Promise, Promise.prototype, Map.prototype,
  Set.prototype, WeakMap.prototype, RegExp.prototype, Date, Date.prototype, Error, Error.prototype, JSON,
  Math, Reflect, console, process, Buffer, Buffer.prototype,
];
const MAX_RUNS = 50;

function snapshot() {
  const values = WATCHED.map((o) => {
    const m = new Map();
    for (const k of Reflect.ownKeys(o)) {
      const d = Reflect.getOwnPropertyDescriptor(o, k);
      m.set(k, d && ('value' in d ? d.value : d.get));
    }
    return m;
  });
  const listeners = process.eventNames().map((e) => `${String(e)}:${process.listenerCount(e)}`).join(',');
  return { values, listeners, protos: WATCHED.map((o) => Object.getPrototypeOf(o)) };
}

function unchanged(a, b) {
  if (a.listeners !== b.listeners) return false;
  for (let i = 0; i < WATCHED.length; i++) {
    if (a.protos[i] !== b.protos[i] || a.values[i].size !== b.values[i].size) return false;
    for (const [k, v] of a.values[i]) if (!b.values[i].has(k) || !Object.is(b.values[i].get(k), v)) return false;
  }
  return true;
}

let job = null;
let before = null;
let done = 0;

parentPort.on('message', ({ url, env, fd, mute, recyclable }) => {
  job = { recyclable };
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, env);
  if (fd >= 0) {
    redirect(process.stdout, 1, fd, mute);
    redirect(process.stderr, 2, fd, mute);
  }
  process.exitCode = undefined;
  before = recyclable && done < MAX_RUNS ? snapshot() : null;
  parentPort.unref();
  import(url).catch((e) => {
    // Rethrow outside the promise so it reaches the host as this worker's uncaught error.
    setImmediate(() => { throw e; });
  });
});

// The run's event loop is empty: exit (the run's end), or report it and wait for the next run.
process.on('beforeExit', () => {
  if (!job) return;
  const code = process.exitCode ?? 0;
  const reuse = before !== null && code === 0 && unchanged(before, snapshot());
  job = null;
  before = null;
  if (!reuse) return;
  done++;
  parentPort.ref();
  parentPort.postMessage({ done: true, code });
});
parentPort.postMessage('ready');

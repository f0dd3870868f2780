// One run of one cell: wait for the job, take the run's environment and output pipe, import the cell.
// The worker exits like a Node process would: when its event loop is empty, or at process.exit().
// CommonJS on purpose: a CommonJS worker boots faster than an ES module one (no ESM loader at start),
// and boot time is what a back-to-back run waits for when the idle pool runs dry.
'use strict';
const fs = require('node:fs');
const { parentPort } = require('node:worker_threads');

const MAX_FRAME = 1 << 20;

// Output frames: u32 length | u8 stream (1 stdout, 2 stderr) | u32 0 | bytes. Written synchronously, so
// output streams while a synchronous loop runs, and a full pipe holds the writer back.
function redirect(stream, kind, fd, mute) {
  stream.write = function write(chunk, encoding, cb) {
    if (typeof encoding === 'function') [cb, encoding] = [encoding, undefined];
    if (Atomics.load(mute, 0) === 0) {
      const bytes = typeof chunk === 'string'
        ? Buffer.from(chunk, encoding)
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

parentPort.once('message', ({ url, env, fd, mute }) => {
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, env);
  if (fd >= 0) {
    redirect(process.stdout, 1, fd, mute);
    redirect(process.stderr, 2, fd, mute);
  }
  parentPort.unref();
  import(url).catch((e) => {
    // Rethrow outside the promise so it reaches the host as this worker's uncaught error.
    setImmediate(() => { throw e; });
  });
});
parentPort.postMessage('ready');

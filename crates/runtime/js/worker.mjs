// One run of one cell: wait for the job, take the run's environment, import the cell. The worker exits
// like a Node process would: when its event loop is empty, or at process.exit().
import { parentPort } from 'node:worker_threads';

parentPort.once('message', ({ url, env }) => {
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, env);
  parentPort.unref();
  import(url).catch((e) => {
    // Rethrow outside the promise so it reaches the host as this worker's uncaught error.
    setImmediate(() => { throw e; });
  });
});
parentPort.postMessage('ready');

// The browser globals the store's modules touch, for Node: imported first by every test file.
const store = new Map<string, string>();
const g = globalThis as Record<string, unknown>;
g.window = globalThis;
g.localStorage = {
  getItem: (k: string) => store.get(k) ?? null,
  setItem: (k: string, v: string) => void store.set(k, String(v)),
  removeItem: (k: string) => void store.delete(k),
  clear: () => store.clear(),
};
// ws.ts listens for the browser's online/offline events when it is loaded.
g.addEventListener ??= () => {};

export {};

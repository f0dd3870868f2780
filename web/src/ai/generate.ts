// `POST /api/generate` with `Accept: application/x-ndjson`: a new notebook written by the model, streamed
// as lines `{"delta"}` … then `{"dir", "id"}` or `{"error": {code, message}}`. Aborting the request (Stop)
// stops the model.
import { ApiError, unauthorized } from "../api";
import type { ErrorBody, GenerateLine, Imported } from "../wire";

/** Every complete line of a byte stream, parsed as JSON (blank and unreadable lines skipped). */
export async function readNdjson(body: ReadableStream<Uint8Array>, onLine: (v: unknown) => void) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  const flush = (all: boolean) => {
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0 || (all && buf)) {
      const line = (nl >= 0 ? buf.slice(0, nl) : buf).trim();
      buf = nl >= 0 ? buf.slice(nl + 1) : "";
      if (!line) continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        continue;
      }
      onLine(v);
    }
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    flush(false);
  }
  buf += dec.decode();
  flush(true);
}

/**
 * Generate a notebook: `onDelta` gets the model's text as it comes; resolves with the imported notebook.
 * Rejects with an ApiError (the server's code and message), or an AbortError after `signal` aborts.
 */
export async function generateNotebook(
  query: string,
  onDelta: (text: string) => void,
  signal?: AbortSignal,
): Promise<Imported> {
  let resp: Response;
  try {
    resp = await fetch("/api/generate", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/x-ndjson" },
      body: JSON.stringify({ query }),
      signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "offline", "The server cannot be reached");
  }
  if (resp.status === 401) unauthorized();
  const type = resp.headers.get("content-type") ?? "";
  if (!resp.ok || !resp.body) {
    // Refused before streaming: the usual error body.
    const j: ErrorBody = type.includes("json") ? await resp.json().catch(() => ({})) : {};
    const msg = j.message ?? (typeof j.error === "string" ? j.error : undefined) ?? resp.statusText;
    throw new ApiError(resp.status, j.code ?? `http_${resp.status}`, String(msg || "Generation failed"));
  }
  if (!type.includes("ndjson")) {
    // A server that does not stream answers `{dir, id}` (or `{result: {dir, id}}`) at once.
    const j = await resp.json();
    const r = (j?.result ?? j) as Partial<Imported>;
    if (typeof r?.id === "string") return r as Imported;
    throw new ApiError(resp.status, j?.code ?? "ai_bad_response", String(j?.message ?? "Unexpected answer"));
  }
  let out: Imported | undefined;
  let err: ApiError | undefined;
  await readNdjson(resp.body, (v) => {
    const l = v as Partial<GenerateLine> & Record<string, any>;
    if (typeof l.delta === "string") onDelta(l.delta);
    else if (l.error && typeof l.error === "object")
      err = new ApiError(resp.status, String(l.error.code ?? "error"), String(l.error.message ?? "Failed"));
    else if (typeof l.id === "string") out = { dir: String(l.dir ?? ""), id: l.id };
  });
  if (err) throw err;
  if (!out) throw new ApiError(resp.status, "ai_stream_cut", "The answer ended before a notebook was made");
  return out;
}

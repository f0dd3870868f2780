// An AI job's failure as the user sees it (kept apart from the job client: the home page needs only this).

export type AiError = { code: string; message: string; retryAfterMs?: number; at?: number };

/** The codes of failures the client makes itself (never from the server). */
export const CONNECTION_LOST = "connection_lost";
export const OFFLINE = "offline";

/** Milliseconds until the server takes a new request after this failure (rate limit, breaker), or 0. */
export function waitLeft(e: AiError | undefined, now = Date.now()) {
  if (!e?.retryAfterMs || e.at === undefined) return 0;
  return Math.max(0, e.at + e.retryAfterMs - now);
}

/** What a failure says to the user: the message, its code, and when to try again. */
export function describeError(e: AiError): string {
  if (e.code === "ai_stopped") return "Stopped.";
  const wait =
    e.retryAfterMs !== undefined && (e.code === "ai_rate_limited" || e.code === "ai_breaker_open")
      ? ` Try again in ${Math.max(1, Math.ceil(e.retryAfterMs / 1000))} s.`
      : "";
  return `${e.message.replace(/\.$/, "")}.${wait}`;
}

import { useEffect, useState } from "preact/hooks";
import { checkToken } from "../api";

// The server exchanges `?token=` on a page URL for an HttpOnly session cookie and redirects back here
// without the token. The form checks the token first (an API call with it, no cookie), so a wrong one is
// reported here instead of coming back to this page with no word of why.
export function Login() {
  // A page URL that still has ?token= was not exchanged: that token is wrong.
  const [linkRefused] = useState(() => new URLSearchParams(location.search).has("token"));
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(
    linkRefused
      ? "The token in this link is not valid. Paste the access token that quire serve printed."
      : "",
  );
  useEffect(() => {
    if (!linkRefused) return;
    const q = new URLSearchParams(location.search);
    q.delete("token");
    history.replaceState(null, "", location.pathname + (q.size ? `?${q}` : ""));
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) return;
    setBusy(true);
    setError("");
    const fail = (m: string) => (setError(m), setBusy(false));
    let r: Awaited<ReturnType<typeof checkToken>>;
    try {
      r = await checkToken(t);
    } catch {
      return fail("The server cannot be reached. Check that quire serve is running.");
    }
    if (r.status === 401)
      return fail("That token is not valid. Check it (it is printed by quire serve) and try again.");
    if (r.status === 429) {
      const wait = r.retryAfter || 60;
      return fail(`Too many wrong tokens from this address: try again in ${wait} s.`);
    }
    if (!r.ok) return fail(`Signing in failed (HTTP ${r.status}).`);
    const q = new URLSearchParams(location.search);
    q.set("token", t);
    location.assign(`${location.pathname}?${q}`);
  };
  return (
    <main id="main" class="page login">
      <h1>Sign in to Quire</h1>
      <p>
        This browser has no session. Open the link that <code>quire serve</code> printed, or paste the access
        token here.
      </p>
      <form onSubmit={submit} class="stack">
        <label for="token">Access token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          value={token}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={error ? "token-error" : undefined}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          required
        />
        {error && (
          <p id="token-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

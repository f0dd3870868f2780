import { useState } from "preact/hooks";

// The server exchanges `?token=` on a page URL for an HttpOnly session cookie and redirects back here
// without the token, so the login form only needs to navigate.
export function Login() {
  const [token, setToken] = useState("");
  const submit = (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) return;
    const q = new URLSearchParams(location.search);
    q.set("token", t);
    location.assign(`${location.pathname}?${q}`);
  };
  return (
    <main id="main" class="page login">
      <h1>Sign in to Quire</h1>
      <p>
        This browser has no session. Open the link that <code>quire serve</code> printed, or paste the access token
        here.
      </p>
      <form onSubmit={submit} class="stack">
        <label for="token">Access token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          required
        />
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}

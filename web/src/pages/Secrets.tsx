import { useEffect, useState } from "preact/hooks";
import { api, titleOf } from "../api";
import type { Secret, Session } from "../wire";

/** Secrets are write-only: the server never returns a value, so renaming asks for the value again. */
function SecretRow({
  s,
  sessions,
  reload,
  onError,
}: {
  s: Secret;
  sessions: Session[];
  reload: () => void;
  onError: (m: string) => void;
}) {
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(s.name);
  const [value, setValue] = useState("");
  const act = (p: Promise<unknown>) => p.then(reload, (e: Error) => onError(e.message));
  return (
    <li class="card stack secret" data-secret={s.name}>
      <div class="row between">
        <code class="secret-name">{s.name}</code>
        <span class="meta">value hidden</span>
      </div>
      {renaming ? (
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            act(api.renameSecret(s.name, name.trim(), value)).then(() => setRenaming(false));
          }}
        >
          <label for={`rn-${s.name}`}>New name</label>
          <input
            id={`rn-${s.name}`}
            value={name}
            pattern="[A-Za-z_][A-Za-z0-9_]*"
            required
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <label for={`rv-${s.name}`}>Value (enter it again)</label>
          <input
            id={`rv-${s.name}`}
            type="password"
            required
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
          <div class="row">
            <button type="submit" class="primary">
              Save
            </button>
            <button type="button" onClick={() => setRenaming(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div class="row">
          <button type="button" onClick={() => setRenaming(true)}>
            Rename or change value
          </button>
          <button
            type="button"
            class="danger"
            onClick={() => confirm(`Delete secret ${s.name}?`) && act(api.deleteSecret(s.name))}
          >
            Delete
          </button>
        </div>
      )}
      {sessions.length > 0 && (
        <fieldset>
          <legend>Available to notebooks</legend>
          {sessions.map((nb) => (
            <label class="check" key={nb.id}>
              <input
                type="checkbox"
                checked={s.associatedWithSessionIds.includes(nb.id)}
                onChange={(e) => act(api.linkSecret(nb.id, s.name, e.currentTarget.checked))}
              />
              {titleOf(nb)}
            </label>
          ))}
        </fieldset>
      )}
    </li>
  );
}

export function Secrets() {
  const [secrets, setSecrets] = useState<Secret[] | null>(null);
  const [sessions, setSessions] = useState<Session[]>([]);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState("");
  const reload = () => {
    setError("");
    api.secrets().then(setSecrets, (e: Error) => setError(e.message));
  };
  useEffect(() => {
    document.title = "Secrets · Quire";
    reload();
    api.sessions().then(setSessions, () => {});
  }, []);
  const add = async (e: Event) => {
    e.preventDefault();
    try {
      await api.putSecret(name.trim(), value);
      setName("");
      setValue("");
      reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <main id="main" class="page">
      <h1>Secrets</h1>
      <p>
        Secrets reach a notebook's cells as environment variables (<code>process.env.NAME</code>) once linked
        to it.
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <form class="card stack" onSubmit={add} aria-labelledby="new-secret">
        <h2 id="new-secret">Add a secret</h2>
        <label for="secret-name">Name</label>
        <input
          id="secret-name"
          required
          pattern="[A-Za-z_][A-Za-z0-9_]*"
          placeholder="API_KEY"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <label for="secret-value">Value</label>
        <input
          id="secret-value"
          type="password"
          required
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <button type="submit" class="primary">
          Save secret
        </button>
      </form>
      {secrets === null ? (
        <p aria-busy="true">Loading…</p>
      ) : secrets.length === 0 ? (
        <p>No secrets yet.</p>
      ) : (
        <ul class="plain stack">
          {secrets.map((s) => (
            <SecretRow key={s.name} s={s} sessions={sessions} reload={reload} onError={setError} />
          ))}
        </ul>
      )}
    </main>
  );
}

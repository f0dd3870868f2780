import { useEffect, useRef, useState } from "preact/hooks";
import { Upload } from "tus-js-client";
import { api, titleOf, urls } from "../api";
import type { FileInfo as Info, Quota, Session, StoredFile as FileRow } from "../wire";

// The file store speaks FileDB's API at the server root (/files, /quota) and tus at /uploads/.
// Files uploaded from this page carry the owner label "quire", and the list shows the files with that
// label. A label is free text any account may set, so each row also says which account uploaded it.
const OWNER = "quire";
/** The account id of the server token (the file store's admin). */
const SERVER_ACCOUNT = "admin";

/** Who uploaded a file, as far as the server says. */
function uploader(f: FileRow, i: Info | undefined) {
  const id = f.user_id ?? i?.user_id;
  const email = f.user_email ?? i?.user_email;
  if (!id) return { text: "unknown", title: "This server does not say which account uploaded it" };
  if (id === SERVER_ACCOUNT) return { text: "you (server token)", title: "Uploaded with the server token" };
  return { text: email || id, title: `Uploaded by the account ${id}` };
}

const uploads = (n: number) => `${n} upload${n === 1 ? "" : "s"}`;

function QuotaCard({ q }: { q: Quota }) {
  const used = fmtBytes(q.used_bytes);
  if (q.unlimited)
    return (
      <p class="meta" data-testid="quota">
        {used} stored · no quota: signed in with the server token (accounts may keep {fmtBytes(q.max_bytes)}{" "}
        each) · {uploads(q.uploads_today)} today
      </p>
    );
  return (
    <>
      <progress
        id="quota"
        max={q.max_bytes || 1}
        value={Math.min(q.used_bytes, q.max_bytes)}
        aria-label="Storage used"
      />
      <p class="meta" data-testid="quota">
        {used} of {fmtBytes(q.max_bytes)} used ({q.usage_percentage}%) · {q.uploads_today} of{" "}
        {q.max_uploads_per_day} uploads today
      </p>
    </>
  );
}
type Job = {
  id: number;
  name: string;
  size: number;
  sent: number;
  state: "uploading" | "paused" | "done" | "failed";
  error?: string;
  upload: Upload;
};

export const fmtBytes = (n: number) => {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) ((n /= 1024), i++);
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
};

let jobSeq = 0;

export default function Files() {
  const [files, setFiles] = useState<FileRow[] | null>(null);
  const [info, setInfo] = useState<Record<string, Info>>({});
  const [quota, setQuota] = useState<Quota | null>(null);
  const [available, setAvailable] = useState(true);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState("");
  const [message, setMessage] = useState("");
  const [notebooks, setNotebooks] = useState<Session[]>([]);
  const input = useRef<HTMLInputElement>(null);

  const reload = async () => {
    try {
      const r = await api.filesByOwner(OWNER);
      setFiles(r.files);
      setQuota(await api.quota().catch(() => null));
      for (const f of r.files)
        api.fileInfo(f.file_id).then(
          (i) => setInfo((m) => ({ ...m, [f.file_id]: i })),
          () => {},
        );
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "not_implemented" || code === "not_found" || (e as { status?: number }).status === 404)
        setAvailable(false);
      else setError((e as Error).message);
    }
  };
  useEffect(() => {
    document.title = "Files · Quire";
    reload();
    api.sessions().then(setNotebooks, () => {});
  }, []);

  // Copies the stored file into the notebook's files/ directory, where its cells can read it.
  const attach = async (f: FileRow, notebookId: string) => {
    setMessage("");
    try {
      const r = await api.attachFile(notebookId, f.file_id);
      setMessage(`Attached: cells of that notebook read it as ${r.path}.`);
    } catch (e) {
      setError(`Attaching failed: ${(e as Error).message}`);
    }
  };

  const update = (id: number, patch: Partial<Job>) =>
    setJobs((js) => js.map((j) => (j.id === id ? { ...j, ...patch } : j)));

  const start = async (file: File) => {
    const id = ++jobSeq;
    const upload = new Upload(file, {
      endpoint: urls.uploads,
      chunkSize: 4 * 1024 * 1024,
      retryDelays: [0, 500, 1000, 2000, 4000],
      removeFingerprintOnSuccess: true,
      metadata: { filename: file.name, filetype: file.type || "application/octet-stream", owner: OWNER },
      onProgress: (sent) => update(id, { sent }),
      onSuccess: () => {
        update(id, { state: "done", sent: file.size });
        reload();
      },
      onError: (err) => update(id, { state: "failed", error: err.message.split("\n")[0] }),
    });
    setJobs((js) => [...js, { id, name: file.name, size: file.size, sent: 0, state: "uploading", upload }]);
    // Resume an earlier, interrupted upload of the same file (tus-js-client remembers it by fingerprint).
    const previous = await upload.findPreviousUploads();
    if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
    upload.start();
  };

  const remove = async (f: FileRow) => {
    if (!confirm(`Delete ${f.original_filename}?`)) return;
    try {
      await api.deleteFile(f.file_id);
      reload();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  if (!available)
    return (
      <main id="main" class="page">
        <h1>Files</h1>
        <p>The file store is not part of this server build.</p>
      </main>
    );
  return (
    <main id="main" class="page">
      <h1>Files</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {message && <p role="status">{message}</p>}
      {quota && (
        <section class="card stack" aria-labelledby="quota-title">
          <h2 id="quota-title">Storage</h2>
          <QuotaCard q={quota} />
        </section>
      )}
      <section class="card stack" aria-labelledby="upload-title">
        <h2 id="upload-title">Upload</h2>
        <label for="upload-input">Choose files (uploads resume after a lost connection)</label>
        <input
          id="upload-input"
          ref={input}
          type="file"
          multiple
          onChange={(e) => {
            for (const f of Array.from(e.currentTarget.files ?? [])) start(f);
            e.currentTarget.value = "";
          }}
        />
        <ul class="plain stack" aria-live="polite">
          {jobs.map((j) => (
            <li key={j.id} class="job" data-state={j.state}>
              <div class="row between">
                <span>{j.name}</span>
                <span class="meta">
                  {fmtBytes(j.sent)} / {fmtBytes(j.size)} {j.state !== "uploading" && `· ${j.state}`}
                </span>
              </div>
              <progress max={j.size || 1} value={j.sent} aria-label={`Upload progress of ${j.name}`} />
              {j.error && <p class="error">{j.error}</p>}
              <div class="row">
                {j.state === "uploading" && (
                  <button type="button" onClick={() => (j.upload.abort(), update(j.id, { state: "paused" }))}>
                    Pause
                  </button>
                )}
                {(j.state === "paused" || j.state === "failed") && (
                  <button
                    type="button"
                    onClick={() => (update(j.id, { state: "uploading", error: undefined }), j.upload.start())}
                  >
                    Resume
                  </button>
                )}
                {j.state !== "done" && (
                  <button
                    type="button"
                    class="danger"
                    onClick={() => (j.upload.abort(true), setJobs((js) => js.filter((x) => x.id !== j.id)))}
                  >
                    Cancel
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="files-title">
        <h2 id="files-title">Stored files</h2>
        <p class="meta">
          Files labelled “{OWNER}”, the label this page uploads with; “Uploaded by” names the account behind
          each.
        </p>
        {files === null ? (
          <p aria-busy="true">Loading…</p>
        ) : files.length === 0 ? (
          <p>No files yet.</p>
        ) : (
          <div class="table-wrap">
            <table class="files">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Size</th>
                  <th scope="col">Type</th>
                  <th scope="col">Uploaded by</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {files.map((f) => {
                  const i = info[f.file_id];
                  const by = uploader(f, i);
                  return (
                    <tr key={f.file_id} data-file={f.original_filename}>
                      <td>{f.original_filename}</td>
                      <td>{fmtBytes(f.total_size)}</td>
                      <td>{f.content_type ?? i?.content_type ?? ""}</td>
                      <td data-testid="uploader" title={by.title}>
                        {by.text}
                      </td>
                      <td>
                        {i ? (i.expires_at ? new Date(i.expires_at).toLocaleDateString() : "never") : "…"}
                      </td>
                      <td class="row">
                        <a href={urls.download(f.file_id)} download={f.original_filename}>
                          Download
                        </a>
                        {notebooks.length > 0 && (
                          <select
                            aria-label={`Attach ${f.original_filename} to a notebook`}
                            value=""
                            onChange={(e) => e.currentTarget.value && attach(f, e.currentTarget.value)}
                          >
                            <option value="">Attach to…</option>
                            {notebooks.map((nb) => (
                              <option key={nb.id} value={nb.id}>
                                {titleOf(nb)}
                              </option>
                            ))}
                          </select>
                        )}
                        <button
                          type="button"
                          class="danger small"
                          onClick={() => remove(f)}
                          aria-label={`Delete ${f.original_filename}`}
                        >
                          Delete
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </main>
  );
}

// Settings: the AI section (your own provider). Provider, model (from the provider's list, or typed), base
// URL, the provider's key (never shown back: "set" when the server has one; typing replaces it), and Test
// (`GET /api/ai/healthcheck`). Shown only when the server has the AI routes.
import { useState } from "preact/hooks";
import { api, ApiError } from "../api";
import type { AiModels, Settings } from "../wire";
import { keySet, OPENAI_COMPATIBLE, PROVIDERS, providerOf, WIRE_FORMATS } from "./settings";

/** `GET /api/ai/models`: the list, a reason it is not there, or (404/501) no AI on this server at all. */
export type ModelsState =
  | { state: "loading" }
  | { state: "ok"; list: AiModels["result"]; provider: string }
  | { state: "error"; code: string; message: string }
  | { state: "unsupported" };

export async function loadModels(provider: string): Promise<ModelsState> {
  try {
    const r = await api.aiModels();
    return { state: "ok", list: Array.isArray(r.result) ? r.result : [], provider };
  } catch (e) {
    const err = e as ApiError;
    if (err.status === 404 || err.status === 501 || err.code === "not_implemented")
      return { state: "unsupported" };
    return { state: "error", code: err.code, message: err.message };
  }
}

export type Health = { ok: true; text: string } | { ok: false; code: string; message: string } | null;

export function AiSettings({
  cfg,
  set,
  keys,
  setKey,
  models,
  health,
  testing,
  onTest,
  onRemoveKey,
}: {
  cfg: Settings;
  set: (k: string, v: unknown) => void;
  keys: Record<string, string>;
  setKey: (k: string, v: string) => void;
  models: ModelsState;
  health: Health;
  testing: boolean;
  onTest: () => void;
  onRemoveKey: (key: string) => void;
}) {
  const provider = providerOf(cfg) ?? PROVIDERS[0];
  const model = typeof cfg.aiModel === "string" ? cfg.aiModel : "";
  const baseUrl = typeof cfg.aiBaseUrl === "string" ? cfg.aiBaseUrl : "";
  // The list is the saved provider's: for another provider (not saved yet) the model is typed.
  const list = models.state === "ok" && models.provider === provider.id ? models.list : null;
  const inList = !!list?.some((m) => m.id === model);
  const [other, setOther] = useState(false);
  const typed = !list || other || (model !== "" && !inList);
  const isSet = keySet(cfg, provider.key);
  const resolved = typeof cfg.aiBaseUrlResolved === "string" ? cfg.aiBaseUrlResolved : "";
  return (
    <fieldset class="stack ai-settings">
      <legend>AI (your own provider)</legend>
      <label for="ai-provider">Provider</label>
      <select id="ai-provider" value={provider.id} onChange={(e) => set("aiProvider", e.currentTarget.value)}>
        {PROVIDERS.map((p) => (
          <option key={p.id} value={p.id}>
            {p.label}
          </option>
        ))}
      </select>

      {list && (
        <>
          <label for="ai-model">Model</label>
          <select
            id="ai-model"
            value={typed ? "__other" : model}
            onChange={(e) => {
              const v = e.currentTarget.value;
              setOther(v === "__other");
              if (v !== "__other") set("aiModel", v);
            }}
          >
            <option value="">The provider's default</option>
            {list.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name && m.name !== m.id ? `${m.name} (${m.id})` : m.id}
              </option>
            ))}
            <option value="__other">Other (type its name)…</option>
          </select>
        </>
      )}
      {typed && (
        <>
          <label for="ai-model-name">{list ? "Model name" : "Model"}</label>
          <input
            id="ai-model-name"
            value={model}
            placeholder="e.g. gpt-4o-mini"
            autocomplete="off"
            spellcheck={false}
            onInput={(e) => set("aiModel", e.currentTarget.value)}
          />
        </>
      )}
      {models.state === "loading" && <p class="meta">Loading the provider's models…</p>}
      {models.state === "error" && (
        <p class="meta">
          The model list is not available ({models.message.replace(/\.$/, "")}, <code>{models.code}</code>):
          type the model's name.
        </p>
      )}

      <label for="ai-base-url">Base URL{provider.id === "custom" ? "" : " (optional: a proxy)"}</label>
      <input
        id="ai-base-url"
        type="url"
        value={baseUrl}
        required={provider.id === "custom"}
        placeholder={provider.id === "custom" ? "http://localhost:11434/v1" : "The provider's own URL"}
        autocomplete="off"
        spellcheck={false}
        onInput={(e) => set("aiBaseUrl", e.currentTarget.value)}
      />
      {resolved && <p class="meta">Resolved to {resolved}</p>}

      {typeof cfg.aiWireFormat === "string" && OPENAI_COMPATIBLE.has(provider.id) && (
        <>
          <label for="ai-wire-format">API format</label>
          <select
            id="ai-wire-format"
            value={cfg.aiWireFormat}
            onChange={(e) => set("aiWireFormat", e.currentTarget.value)}
          >
            {WIRE_FORMATS.map((f) => (
              <option key={f.id} value={f.id}>
                {f.label}
              </option>
            ))}
          </select>
        </>
      )}

      <label for="ai-key">
        {provider.label} API key{provider.id === "custom" ? " (if your server needs one)" : ""}
      </label>
      <div class="row">
        <input
          id="ai-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={keys[provider.key] ?? ""}
          placeholder={isSet ? "set: type a new key to replace it" : "not set"}
          aria-describedby="ai-key-state"
          onInput={(e) => setKey(provider.key, e.currentTarget.value)}
        />
        <span id="ai-key-state" class={`pill ${isSet ? "" : "muted"}`}>
          {isSet ? "set" : "not set"}
        </span>
        {isSet && (
          <button type="button" class="small danger" onClick={() => onRemoveKey(provider.key)}>
            Remove key
          </button>
        )}
      </div>
      <p class="meta">Keys are sealed on the server and never shown again.</p>

      <div class="row">
        <button type="button" onClick={onTest} disabled={testing}>
          Test
        </button>
        {testing && (
          <span class="status running" role="status">
            Testing…
          </span>
        )}
      </div>
      {health?.ok === true && (
        <p class="status ok" role="status">
          {health.text}
        </p>
      )}
      {health?.ok === false && (
        <p class="error ai-error" role="alert">
          {health.message.replace(/\.$/, "")}. <code class="ai-code">{health.code}</code>
        </p>
      )}
    </fieldset>
  );
}

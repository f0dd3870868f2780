// The AI settings (Srcbook's keys, docs/protocol.md "AI"): providers, their key fields, and whether AI is
// set up enough to try.
import type { Settings } from "../wire";

/** Quire's `aiWireFormat`: the API an OpenAI-compatible provider is spoken to with. */
export const WIRE_FORMATS = [
  { id: "chat_completions", label: "Chat Completions (every compatible server)" },
  { id: "responses", label: "Responses (newer servers)" },
] as const;
/** The providers `aiWireFormat` applies to. */
export const OPENAI_COMPATIBLE = new Set(["openai", "Xai", "openrouter", "custom"]);

/** Srcbook's `aiProvider` values, with the setting that holds each one's key. */
export const PROVIDERS = [
  { id: "openai", label: "OpenAI", key: "openaiKey" },
  { id: "anthropic", label: "Anthropic", key: "anthropicKey" },
  { id: "Xai", label: "xAI", key: "xaiKey" },
  { id: "Gemini", label: "Gemini", key: "geminiKey" },
  { id: "openrouter", label: "OpenRouter", key: "openrouterKey" },
  { id: "custom", label: "Custom (OpenAI-compatible)", key: "customApiKey" },
] as const;

export const KEY_SETTINGS = PROVIDERS.map((p) => p.key);
/** What the server shows for a key that is set. */
export const MASK = "********";

export const providerOf = (s: Settings) =>
  PROVIDERS.find((p) => p.id === s.aiProvider) ?? (s.aiProvider ? undefined : PROVIDERS[0]);

/** Whether the server holds this key (it never sends the key itself). */
export const keySet = (s: Settings, key: string) => typeof s[key] === "string" && s[key] !== "";

/** Set up enough to try: a public provider with its key; `custom` with a base URL (a local server may need
 * no key). */
export function aiConfigured(s: Settings) {
  const p = providerOf(s);
  if (!p) return false;
  if (p.id === "custom") return typeof s.aiBaseUrl === "string" && s.aiBaseUrl.trim() !== "";
  return keySet(s, p.key);
}

/** The settings to post: provider, model, base URL, and only the keys typed (a key left empty is unchanged). */
export function aiPatch(
  draft: { aiProvider: string; aiModel: string; aiBaseUrl: string; aiWireFormat?: string },
  typedKeys: Record<string, string>,
): Settings {
  const patch: Settings = {
    aiProvider: draft.aiProvider,
    aiModel: draft.aiModel.trim() || null,
    aiBaseUrl: draft.aiBaseUrl.trim() || null,
  };
  // Only to a server that has the setting (it refuses keys it does not know).
  if (draft.aiWireFormat) patch.aiWireFormat = draft.aiWireFormat;
  for (const [k, v] of Object.entries(typedKeys))
    if (KEY_SETTINGS.includes(k as never) && v.trim()) patch[k] = v.trim();
  return patch;
}

// The tool calls of an AI job, one card each: which tool on which server, its arguments, where it is
// (waiting for approval, running, done, error, denied, failed), how long it took, and its result: text,
// images, audio, embedded resources, resource links and structured content. Everything in a result comes
// from a third-party server: rendered as text, media only from base64 with a plain media type, links only
// to http(s).
import type { ContentPart, ToolResult } from "../wire";
import { splitTool, type AiJob, type ToolCall, type ToolCallState } from "./jobs";
import { JsonDetails } from "../mcp/Json";

const LABEL: Record<ToolCallState, string> = {
  waiting: "Waiting for approval",
  running: "Running…",
  done: "Done",
  error: "The tool reported an error",
  denied: "Denied",
  failed: "Failed",
};
const TONE: Record<ToolCallState, string> = {
  waiting: "running",
  running: "running",
  done: "ok",
  error: "fail",
  denied: "fail",
  failed: "fail",
};

export function ToolCards({ job }: { job: AiJob }) {
  if (!job.tools?.length) return null;
  return (
    <ol class="tool-cards" aria-label="Tool calls">
      {job.tools.map((c) => (
        <li key={c.callId}>
          <ToolCard call={c} />
        </li>
      ))}
    </ol>
  );
}

export function ToolCard({ call }: { call: ToolCall }) {
  const { server, tool } = splitTool(call.tool);
  const name = server ? `${tool} · ${server}` : tool;
  const result = call.result;
  return (
    <article class={`tool-card ${call.status}`} aria-label={`Tool call ${name}`} data-status={call.status}>
      <div class="row">
        <strong class="tool-name">{name}</strong>
        <span class={`status ${TONE[call.status]}`} role="status">
          {LABEL[call.status]}
        </span>
        <span class="spacer" />
        {typeof call.durationMs === "number" && <span class="meta">{duration(call.durationMs)}</span>}
      </div>
      <JsonDetails value={call.arguments ?? {}} summary="Arguments" />
      {result && isToolResult(result) && <Result result={result} />}
      {result && !isToolResult(result) && (
        <p class="error ai-error">
          {String(result.message ?? "The call did not run").replace(/\.$/, "")}.{" "}
          {result.code && <code class="ai-code">{String(result.code)}</code>}
        </p>
      )}
    </article>
  );
}

const duration = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

function isToolResult(r: unknown): r is ToolResult {
  return !!r && typeof r === "object" && Array.isArray((r as ToolResult).content);
}

function Result({ result }: { result: ToolResult }) {
  return (
    <div class={`tool-result stack tight ${result.isError ? "is-error" : ""}`} aria-label="Result">
      {result.isError && <p class="error ai-error">The tool says the call failed:</p>}
      {result.content.map((p, i) => (
        <Part key={i} part={p} error={result.isError} />
      ))}
      {result.structuredContent !== undefined && result.structuredContent !== null && (
        <JsonDetails value={result.structuredContent} summary="Structured content" />
      )}
    </div>
  );
}

const BASE64 = /^[A-Za-z0-9+/=\s]*$/;
const media = (kind: "image" | "audio", mime: unknown, data: unknown) =>
  typeof mime === "string" &&
  new RegExp(`^${kind}/[\\w.+-]+$`).test(mime) &&
  typeof data === "string" &&
  BASE64.test(data)
    ? `data:${mime};base64,${data.replace(/\s/g, "")}`
    : null;
const webLink = (uri: string) => /^https?:\/\//i.test(uri);

function Part({ part, error }: { part: ContentPart; error: boolean }) {
  switch (part?.type) {
    case "text":
      return <pre class={`ai-text tool-text ${error ? "error" : ""}`}>{String(part.text ?? "")}</pre>;
    case "image": {
      const src = media("image", part.mimeType, part.data);
      return src ? (
        <img class="tool-image" src={src} alt={`Image from the tool (${part.mimeType})`} />
      ) : (
        <p class="meta">An image this page cannot show ({String(part.mimeType)}).</p>
      );
    }
    case "audio": {
      const src = media("audio", part.mimeType, part.data);
      return src ? (
        <audio class="tool-audio" controls src={src} aria-label={`Audio from the tool (${part.mimeType})`} />
      ) : (
        <p class="meta">Audio this page cannot play ({String(part.mimeType)}).</p>
      );
    }
    case "resource":
      return (
        <div class="tool-resource">
          <p class="meta">
            Resource <code>{String(part.uri)}</code>
            {part.mimeType && ` (${part.mimeType})`}
          </p>
          {typeof part.text === "string" ? (
            <pre class="ai-text">{part.text}</pre>
          ) : (
            <p class="meta">
              Binary content{typeof part.blob === "string" ? ` (${approxBytes(part.blob)})` : ""}: not shown.
            </p>
          )}
        </div>
      );
    case "resource_link":
      return (
        <p class="tool-link">
          Link:{" "}
          {webLink(String(part.uri)) ? (
            <a href={part.uri} target="_blank" rel="noopener noreferrer">
              {part.name || part.uri}
            </a>
          ) : (
            <code>{part.name ? `${part.name} (${part.uri})` : String(part.uri)}</code>
          )}
          {part.description && <span class="meta"> {part.description}</span>}
        </p>
      );
    default:
      return <JsonDetails value={part} summary={`Content of type ${String((part as any)?.type)}`} />;
  }
}

function approxBytes(b64: string) {
  const n = Math.floor((b64.replace(/[\s=]/g, "").length * 3) / 4);
  return n < 1024 ? `${n} bytes` : `${(n / 1024).toFixed(1)} KiB`;
}

// A minimal MCP stdio server for fault tests (no SDK): newline-delimited JSON-RPC on stdin/stdout.
// Usage: node tiny-server.mjs <mode> <file>. tools/list sends one tool per page.
//   crash: the first tools/call (while <file> is missing) creates <file>, writes to stderr and exits 3;
//          later ones answer "worked".
//   hang:  every tools/call appends a line to <file> and is never answered.
//   grow:  a call of "work" adds the tool "extra", sends notifications/tools/list_changed, then answers.
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";

const [mode, file] = process.argv.slice(2);
const tools = [{ name: "work", inputSchema: { type: "object" } }];
const send = (msg) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...msg }) + "\n");

// A hung server also outlives its stdin: only a signal ends it (what the no-orphan tests rely on).
if (mode === "hang") setInterval(() => {}, 1 << 30);

createInterface({ input: process.stdin }).on("line", (line) => {
  let m;
  try {
    m = JSON.parse(line);
  } catch {
    return;
  }
  if (m.id === undefined) return; // a notification
  switch (m.method) {
    case "initialize":
      return send({
        id: m.id,
        result: {
          protocolVersion: "2025-11-25",
          capabilities: { tools: {} },
          serverInfo: { name: `tiny-${mode}`, version: "1.0.0" },
        },
      });
    case "ping":
      return send({ id: m.id, result: {} });
    case "tools/list":
      {
        // One tool per page, so clients must follow nextCursor.
        const at = Number(m.params?.cursor ?? 0);
        const next = at + 1 < tools.length ? String(at + 1) : undefined;
        return send({ id: m.id, result: { tools: tools.slice(at, at + 1), nextCursor: next } });
      }
    case "tools/call":
      if (mode === "hang") {
        appendFileSync(file, "call\n");
        return;
      }
      if (mode === "grow") {
        tools.push({ name: "extra", inputSchema: { type: "object" } });
        send({ method: "notifications/tools/list_changed" });
        return send({ id: m.id, result: { content: [{ type: "text", text: "grown" }] } });
      }
      if (!existsSync(file)) {
        writeFileSync(file, "crashed\n");
        process.stderr.write("tiny-crash: boom, exiting on purpose\n", () => process.exit(3));
        return;
      }
      return send({ id: m.id, result: { content: [{ type: "text", text: "worked" }] } });
    default:
      return send({ id: m.id, error: { code: -32601, message: `method not found: ${m.method}` } });
  }
});

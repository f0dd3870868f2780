// A small MCP stdio server for the server's gate tests (no SDK): newline-delimited JSON-RPC.
// Tools: `add` {a, b} → "The sum of a and b is c."; `secret` → the value of $SECRET_TOKEN.
// Every tools/call is appended to the file named by argv[2] BEFORE it is answered, so a test can
// prove that a call which was not approved never reached the server.
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline";

const log = process.argv[2];
const send = (msg) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...msg }) + "\n");
const tools = [
  {
    name: "add",
    description: "Adds two numbers",
    inputSchema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] },
  },
  { name: "secret", description: "Says the configured secret", inputSchema: { type: "object" } },
];

createInterface({ input: process.stdin }).on("line", (line) => {
  let m;
  try {
    m = JSON.parse(line);
  } catch {
    return;
  }
  if (m.id === undefined) return;
  switch (m.method) {
    case "initialize":
      return send({
        id: m.id,
        result: { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "sum", version: "1.0.0" } },
      });
    case "ping":
      return send({ id: m.id, result: {} });
    case "tools/list":
      return send({ id: m.id, result: { tools } });
    case "tools/call": {
      appendFileSync(log, JSON.stringify(m.params) + "\n");
      const { name, arguments: args = {} } = m.params;
      if (name === "add") {
        const text = `The sum of ${args.a} and ${args.b} is ${args.a + args.b}.`;
        return send({ id: m.id, result: { content: [{ type: "text", text }], structuredContent: { sum: args.a + args.b } } });
      }
      if (name === "secret") return send({ id: m.id, result: { content: [{ type: "text", text: String(process.env.SECRET_TOKEN) }] } });
      return send({ id: m.id, result: { content: [{ type: "text", text: `no tool ${name}` }], isError: true } });
    }
    default:
      return send({ id: m.id, error: { code: -32601, message: `no method ${m.method}` } });
  }
});

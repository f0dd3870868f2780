// A minimal Streamable HTTP MCP server (no SDK, JSON responses only) that requires a bearer token:
// it checks that configured headers reach the server. Prints its port on stdout.
// Usage: node tiny-http.mjs <token>
import { createServer } from "node:http";

const token = process.argv[2];
const server = createServer((req, res) => {
  if (req.headers.authorization !== `Bearer ${token}`) {
    res.writeHead(401, { "content-type": "application/json" });
    return res.end(JSON.stringify({ error: "unauthorized" }));
  }
  if (req.method !== "POST") {
    res.writeHead(405);
    return res.end();
  }
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const m = JSON.parse(body);
    if (m.id === undefined) {
      res.writeHead(202);
      return res.end();
    }
    const reply = (msg) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: m.id, ...msg }));
    };
    switch (m.method) {
      case "initialize":
        return reply({
          result: {
            protocolVersion: "2025-11-25",
            capabilities: { tools: {} },
            serverInfo: { name: "tiny-http", version: "1.0.0" },
          },
        });
      case "tools/list":
        return reply({ result: { tools: [{ name: "whoami", inputSchema: { type: "object" } }] } });
      case "tools/call":
        return reply({ result: { content: [{ type: "text", text: String(req.headers["x-quire-test"]) }] } });
      default:
        return reply({ error: { code: -32601, message: `method not found: ${m.method}` } });
    }
  });
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));

// The official MCP TypeScript SDK driving Quire: over Streamable HTTP (`http <url> <token>`) or
// over stdio (`stdio <command> [args...]`). Prints one JSON object of what it saw.
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");

async function main() {
  const [mode, ...rest] = process.argv.slice(2);
  let transport;
  if (mode === "http") {
    const [url, token] = rest;
    transport = new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
  } else {
    const [command, ...args] = rest;
    // The SDK passes only a few safe variables to the child unless told: QUIRE_TOKEN is one to pass.
    transport = new StdioClientTransport({ command, args, stderr: "inherit", env: { ...process.env } });
  }
  const client = new Client({ name: "quire-test", version: "1.0.0" });
  await client.connect(transport);
  const out = {};
  const call = async (name, args) => {
    const r = await client.callTool({ name, arguments: args });
    if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.structuredContent)}`);
    return r.structuredContent;
  };
  out.tools = (await client.listTools()).tools.map((t) => t.name);
  const nb = await call("create_notebook", { title: "From the SDK", language: "typescript" });
  out.notebook = nb;
  const added = await call("add_cell", {
    notebookId: nb.id,
    type: "code",
    source: "const x: number = 2; console.log(x * 21)",
  });
  out.cell = added.cell;
  out.run = await call("run_cell", { notebookId: nb.id, cellId: added.cell.id });
  const res = await client.readResource({ uri: `quire://notebooks/${nb.id}.src.md` });
  out.resource = res.contents[0].text;
  const cellRes = await client.readResource({ uri: `quire://notebooks/${nb.id}/cells/${added.cell.id}` });
  out.cellResource = cellRes.contents[0].text;
  out.resources = (await client.listResources()).resources.map((r) => r.uri);
  const missing = await client.callTool({ name: "get_notebook", arguments: { notebookId: "aaaaaaaaaaaaaaaaaaaaaaaaaa" } });
  out.missing = { isError: missing.isError, structured: missing.structuredContent };
  if (process.env.QUIRE_MCP_DIAGNOSTICS === "1") {
    const bad = await call("add_cell", { notebookId: nb.id, type: "code", source: "const y: number = 'no';\n" });
    out.diagnostics = await call("get_diagnostics", { notebookId: nb.id, cellId: bad.cell.id });
  }
  await client.close();
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});

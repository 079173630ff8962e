// The input schema of every tool of five reference MCP servers, as each lists it (zod's JSON
// Schema, draft 7), one file each, for jsonschema_bench.py: the tool arguments an MCP client hands
// edgeqwen.
//
//   npm install @modelcontextprotocol/server-everything @modelcontextprotocol/server-filesystem \
//     @modelcontextprotocol/server-github @modelcontextprotocol/server-memory \
//     @modelcontextprotocol/server-sequential-thinking
//   node tools/bench/mcp_tool_schemas.mjs OUT   (from the folder that holds node_modules; the
//                                               servers run over stdio, offline)
//   python tools/bench/jsonschema_bench.py OUT --generate 63
import { createRequire } from "module";
import fs from "fs";
import path from "path";

const require = createRequire(path.join(process.cwd(), "noop.js"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const out = process.argv[2];
fs.mkdirSync(out, { recursive: true });
const servers = {  // name -> [the server's script, its arguments]
  everything: ["server-everything", ["stdio"]],
  filesystem: ["server-filesystem", [out]],
  github: ["server-github", []],  // lists its tools without a token
  memory: ["server-memory", []],
  thinking: ["server-sequential-thinking", []],
};
for (const [name, [pkg, args]] of Object.entries(servers)) {
  const script = path.join(process.cwd(), "node_modules", "@modelcontextprotocol", pkg, "dist", "index.js");
  const transport = new StdioClientTransport({ command: "node", args: [script, ...args], stderr: "ignore" });
  const client = new Client({ name: "edgeqwen-bench", version: "1.0.0" });
  await client.connect(transport);
  const { tools } = await client.listTools();
  for (const tool of tools) fs.writeFileSync(path.join(out, `${name}-${tool.name}.json`), JSON.stringify(tool.inputSchema));
  console.log(`${name}: ${tools.length} tools`);
  await client.close();
}

// The options schema of every rule of ESLint and six plugins, as ESLint normalises it (an array
// schema becomes a tuple of at most that many options), one file each, for jsonschema_bench.py:
//
//   npm install --ignore-scripts eslint @typescript-eslint/eslint-plugin eslint-plugin-react \
//     eslint-plugin-import eslint-plugin-jsdoc eslint-plugin-n @stylistic/eslint-plugin
//   node tools/bench/eslint_schemas.js OUT      (from the folder that holds node_modules:
//                                               NODE_PATH=that/node_modules from elsewhere)
//   python tools/bench/jsonschema_bench.py OUT --generate 100
const fs = require('fs');
const out = process.argv[2];
fs.mkdirSync(out, { recursive: true });
function normalise(schema) {
  if (schema === undefined || schema === false) return null;
  if (Array.isArray(schema)) {
    if (schema.length === 0) return null;
    return { type: 'array', items: schema, minItems: 0, maxItems: schema.length };
  }
  return schema;
}
const sources = {
  eslint: () => require('eslint/use-at-your-own-risk').builtinRules,
  'typescript-eslint': () => new Map(Object.entries(require('@typescript-eslint/eslint-plugin').rules)),
  react: () => new Map(Object.entries(require('eslint-plugin-react').rules)),
  import: () => new Map(Object.entries(require('eslint-plugin-import').rules)),
  jsdoc: () => new Map(Object.entries(require('eslint-plugin-jsdoc').rules)),
  n: () => new Map(Object.entries(require('eslint-plugin-n').rules)),
  stylistic: () => new Map(Object.entries(require('@stylistic/eslint-plugin').rules)),
};
let n = 0;
for (const [name, load] of Object.entries(sources)) {
  let rules;
  try { rules = load(); } catch (e) { console.error(name, e.message); continue; }
  for (const [rule, def] of rules) {
    const schema = normalise(def.meta && def.meta.schema);
    if (!schema) continue;
    fs.writeFileSync(`${out}/${name}--${rule.replace(/\//g, '_')}.json`, JSON.stringify(schema));
    n++;
  }
}
console.log(n, 'schemas');

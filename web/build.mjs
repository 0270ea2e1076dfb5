// Builds the portal into internal/portal/dist (or the folder given as the
// first argument): app.js and scan.js bundled by esbuild from src/, with
// index.html and style.css copied. The output is committed, so `go build`
// alone makes a complete binary; scripts/test.sh rebuilds into a temporary
// folder and fails when the committed files differ.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "../internal/portal/dist"));
mkdirSync(out, { recursive: true });

// js/ (the reference transaction and envelope code the portal reuses)
// imports @hpke/core; resolve it, like every package, from web/node_modules,
// so the bundle does not depend on whether js/node_modules exists.
const fromWeb = {
  name: "from-web",
  setup(b) {
    b.onResolve({ filter: /^@(hpke|noble)\// }, (args) =>
      args.pluginData === "from-web" ? undefined : b.resolve(args.path, { kind: args.kind, resolveDir: here, pluginData: "from-web" }),
    );
  },
};

// Two bundles: the pages (app.js) and the barcode decoder (scan.js), which
// app.js imports only when someone scans.
for (const entry of ["app", "scan"]) await build({
  entryPoints: [join(here, `src/${entry}.js`)],
  outfile: join(out, `${entry}.js`),
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  plugins: [fromWeb],
  // js/make_js_vectors.mjs loads these only when run as a Node script.
  external: ["node:*"],
  logLevel: "warning",
});
for (const f of ["index.html", "style.css"]) copyFileSync(join(here, "src", f), join(out, f));
console.log("portal built into " + out);

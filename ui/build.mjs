// Builds the web view (ui/*.tsx, Preact) into dist/ui/web: one bundled app.js, index.html and
// style.css, served by `kubewire ui`; nothing is fetched at run time. Run by `npm run build` and `prepare`.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const here = import.meta.dirname;
const out = join(here, "../dist/ui/web");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "app.tsx")],
  bundle: true,
  format: "esm",
  target: "es2020",
  jsx: "automatic",
  jsxImportSource: "preact",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
for (const f of ["index.html", "style.css"]) copyFileSync(join(here, f), join(out, f));

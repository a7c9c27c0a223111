// Bundles the compiled CLI (dist/cli/entry.js and what it imports) into dist/bundle: each command's
// modules in a few chunks instead of hundreds of files, which is most of a short command's start-up
// (`exec` runs before every wrapped command). Dynamic imports stay dynamic (code splitting), so a command
// still loads only what it uses. Packages with native code or heavy, rarely used ones stay in node_modules.
// Run by `npm run build`, `prepare` and `npm test`, after tsc.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const out = join(root, "dist/bundle"); // two levels below the root, as dist/cli: relative paths (package.json, dist/ui) hold
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [join(root, "dist/cli/entry.js")],
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["pg", "@kubernetes/client-node", "node-forge"],
  // bundled CommonJS packages call require() for Node's own modules
  banner: { js: 'import { createRequire as kubewireRequire } from "node:module"; const require = kubewireRequire(import.meta.url);' },
  logLevel: "warning",
});

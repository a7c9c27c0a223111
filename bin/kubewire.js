#!/usr/bin/env node
// Entry point for `kubewire` and the kubectl plugin `kubectl-wire`: runs the compiled CLI, from the bundle
// `npm run build` makes (dist/bundle: a few files load much faster than hundreds of modules) unless a tsc
// run has written dist/cli/entry.js since (a whole `tsc -p tsconfig.json` rewrites it; an incremental
// `tsc --watch` that leaves it alone is not noticed: run `npm run build`).
import { statSync } from "node:fs";

const mtime = (path) => statSync(new URL(path, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundled = mtime("../dist/bundle/entry.js") >= mtime("../dist/cli/entry.js");
const { run } = await import(bundled ? "../dist/bundle/entry.js" : "../dist/cli/entry.js");
await run(process.argv);

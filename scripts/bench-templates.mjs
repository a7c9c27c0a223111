// kubectl's output flags over a large list, in process: -o json against -o jsonpath (a range, a filter),
// -o custom-columns and --sort-by (a number, a string), on 100,000 ls-shaped rows. Median of N runs.
// Usage: npx tsc -p tsconfig.json && node scripts/bench-templates.mjs [runs]
import { json } from "../dist/format/output.js";
import { printList, sortBy, templatePrinter } from "../dist/format/printers.js";

const runs = Number(process.argv[2] ?? 5);
const n = 100_000;
const rows = Array.from({ length: n }, (_, i) => ({
  id: i + 1, time: new Date(1.7e12 + i * 10).toISOString(), method: "GET", path: `/api/v1/namespaces/ns-${i % 50}/pods`, query: "",
  verb: "list", group: "", version: "v1", resource: "pods", subresource: "", namespace: `ns-${i % 50}`, name: "",
  status: i % 7 ? 200 : 403, durationMs: ((i * 7919) % 1000) + 0.5, error: null, context: "c", userAgent: "kubectl/v1.32.0 (linux/amd64) kubernetes/abc",
  bytesIn: 0, bytesOut: 1234, flags: i % 7 ? [] : ["forbidden"], origin: "proxy", replayOf: null,
}));
const cases = [
  ["-o json", () => json(rows)],
  ['-o jsonpath={range .items[*]}{.id}{"\\t"}{.status}{"\\n"}{end}', () => printList(templatePrinter('jsonpath={range .items[*]}{.id}{"\\t"}{.status}{"\\n"}{end}'), rows)],
  ["-o jsonpath={.items[?(@.status==403)].id}", () => printList(templatePrinter("jsonpath={.items[?(@.status==403)].id}"), rows)],
  ["-o custom-columns=ID:.id,VERB:.verb,PATH:.path,FLAGS:.flags[*]", () => printList(templatePrinter("custom-columns=ID:.id,VERB:.verb,PATH:.path,FLAGS:.flags[*]"), rows)],
  ["--sort-by .durationMs", () => sortBy(rows, ".durationMs")],
  ["--sort-by .path", () => sortBy(rows, ".path")],
];
const times = new Map(cases.map(([label]) => [label, []]));
for (let r = 0; r < runs; r++) {
  for (const [label, fn] of cases) {
    const start = performance.now();
    fn();
    times.get(label).push(performance.now() - start);
  }
}
console.log(`| ${n.toLocaleString("en")} rows | median of ${runs} (ms) |\n|---|---:|`);
for (const [label, t] of times) console.log(`| \`${label}\` | ${Math.round(t.sort((a, b) => a - b)[Math.floor(t.length / 2)])} |`);

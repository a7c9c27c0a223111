// kubectl's templated outputs on kubewire's commands: -o jsonpath=, jsonpath-as-json=, custom-columns=
// and --sort-by over a recording of real kubectl through the simulated cluster, each compared with
// what kubectl itself prints for the same template over the same JSON (kubectl annotate --local for
// jsonpath; kubectl get of the same rows stored as ConfigMaps for custom-columns and --sort-by).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ExchangeRow } from "../src/store/store.js";
import { JsonPath } from "../src/format/jsonpath.js";
import { printList, templatePrinter } from "../src/format/printers.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, run, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);

let world: World;
let db: string;
/** the rows of the viewer's session (all answered), as ls -o json prints them */
let viewer: ExchangeRow[];
/** what kubectl's jsonpath reads: the viewer's rows in one object (under kwitems: kubectl would split an items list) */
let wrapper: string;

async function session(context: string, drive: (kubeconfig: string) => Promise<unknown>) {
  const s = await record(world, context, { db });
  try {
    await drive(s.kubeconfigPath);
  } finally {
    await s.stop(100);
  }
}

const ls = (args: string[]) => kubewire(["ls", "--db", db, ...args]);
const viewerLs = (args: string[]) => ls(["--context", "demo-viewer", ...args]);
const admin = (args: string[]) => kubectl(world.kubeconfig, ["--context", "demo-admin", ...args]);

describe.skipIf(!haveKubectl)("templated output and sorting over a recording of kubectl", () => {
  beforeAll(async () => {
    world = await demoWorld();
    db = join(world.dir, "rec.db");
    await session("demo-viewer", async (k) => {
      await kubectl(k, ["get", "pods", "-n", "kube-system"]); // 403
      await kubectl(k, ["get", "pods"]);
      await kubectl(k, ["get", "deployments.apps"]); // 403, group apps
      await kubectl(k, ["logs", "web-1"]); // pods/log
      await kubectl(k, ["get", "namespaces"]);
    });
    // a namespace that never answers: kubectl gives up, the exchange has an error and no status
    await session("demo-admin", (k) => kubectl(k, ["get", "pods", "-n", "hang", "--request-timeout=1s"]));
    viewer = JSON.parse((await viewerLs(["-o", "json"])).stdout);
    wrapper = join(world.dir, "wrapper.json");
    writeFileSync(wrapper, JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "kubewire" }, kwitems: viewer }));
    // the same rows as ConfigMaps, for kubectl get -o custom-columns and --sort-by
    await admin(["create", "namespace", "kwtest"]);
    const list = { apiVersion: "v1", kind: "List", items: viewer.map((r, i) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `r-${String(i).padStart(4, "0")}`, namespace: "kwtest" }, ...r })) };
    writeFileSync(join(world.dir, "rows.json"), JSON.stringify(list));
    const created = await admin(["create", "-f", join(world.dir, "rows.json"), "--validate=false"]);
    expect(created.stderr).toBe("");
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  it("recorded what the tests read: 403s, the apps group, a log, and a request without an answer", () => {
    expect(viewer.filter((r) => r.status === 403).map((r) => r.resource).sort()).toEqual(["deployments", "pods"]);
    expect(viewer.some((r) => r.subresource === "log")).toBe(true);
    expect(viewer.length).toBeGreaterThan(5);
  });

  describe("-o jsonpath prints what kubectl prints for the same template over the same list", () => {
    it.each([
      ["jsonpath", `{range .items[*]}{.id}{"\\t"}{.verb}{"\\t"}{.status}{"\\n"}{end}`],
      ["jsonpath", "{.items[?(@.status==403)].id}"],
      ["jsonpath", "{.items[0].verb} {.items[-1].path}"],
      ["jsonpath", `{range .items[?(@.resource=="pods")]}{.namespace}/{.name} {.subresource}{"\\n"}{end}`],
      ["jsonpath", "{.items[?(@.group=='apps')].resource}"],
      ["jsonpath", "{.items[*].flags}"],
      ["jsonpath", "{.items[?(@.bytesOut>1000)].id}"],
      ["jsonpath", "{.items[1:3]}"],
      ["jsonpath", "{.items[?(@.error)].id}none"],
      ["jsonpath-as-json", "{.items[*].id}"],
      ["jsonpath-as-json", `{range .items[0:2]}{.path}{"\\n"}{end}`],
    ])("-o %s=%s", async (kind, template) => {
      const ours = await viewerLs(["-o", `${kind}=${template}`]);
      const theirs = await run(KUBECTL, ["annotate", "--local", "-f", wrapper, "kubewire=test", "-o", `${kind}=${template.replaceAll(".items", ".kwitems")}`]);
      expect(theirs.code).toBe(0);
      expect(ours.stderr).toBe("");
      expect(ours.stdout).toBe(theirs.stdout);
      if (!template.includes("@.error")) expect(ours.stdout.trim()).not.toBe("");
    });
  });

  it("lists every exchange id with {range}, and picks the 403s although an abandoned request has no status", async () => {
    const all: ExchangeRow[] = JSON.parse((await ls(["-o", "json"])).stdout);
    expect(all.some((r) => r.status === null && r.error?.code === "CLIENT_ABORTED")).toBe(true);
    const ids = await ls(["-o", `jsonpath={range .items[*]}{.id}{"\\n"}{end}`]);
    expect(ids.stdout).toBe(all.map((r) => `${r.id}\n`).join(""));
    const forbidden = await ls(["-o", "jsonpath={.items[?(@.status==403)].id}"]);
    expect(forbidden.stdout).toBe(all.filter((r) => r.status === 403).map((r) => r.id).join(" "));
    // kubectl refuses to compare a float with an int; JavaScript numbers compare
    const slow = await ls(["-o", "jsonpath={.items[?(@.durationMs>=2)].id}"]);
    expect(slow.stdout).toBe(all.filter((r) => r.durationMs >= 2).map((r) => r.id).join(" "));
    const aborted = await ls(["-o", "jsonpath={.items[?(@.error.code=='CLIENT_ABORTED')].namespace}"]);
    expect(aborted.stdout).toBe("hang");
  });

  it("prints -o custom-columns as kubectl get prints the same rows: header, <none> for missing, Go's values", async () => {
    const spec = "ID:.id,VERB:.verb,RESOURCE:.resource,GROUP:.group,STATUS:.status,FLAGS:.flags[*],ALL:.flags,CODE:.error.code,REPLAY:.replayOf";
    const [ours, theirs] = await Promise.all([viewerLs(["-o", `custom-columns=${spec}`]), admin(["get", "configmaps", "-n", "kwtest", "-o", `custom-columns=${spec}`])]);
    expect(theirs.code).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
    const lines = ours.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID +VERB +RESOURCE +GROUP +STATUS +FLAGS +ALL +CODE +REPLAY$/);
    expect(lines.find((l) => / 403 /.test(l))).toMatch(/ forbidden +\[forbidden\] +<none> +<nil>$/);
    const noHeaders = await viewerLs(["-o", `custom-columns=${spec}`, "--no-headers"]);
    expect(noHeaders.stdout.split("\n")[0]).toMatch(/^\d+ /);
  });

  it.each([".path", ".bytesOut", ".status", ".time", "{.verb}", "userAgent"])("sorts by %s as kubectl get --sort-by does", async (field) => {
    const column = `custom-columns=KEY:${field.startsWith("{") ? field : field.replace(/^\.?/, ".")}`;
    const [ours, theirs] = await Promise.all([viewerLs(["--sort-by", field, "-o", column]), admin(["get", "configmaps", "-n", "kwtest", "--sort-by", field, "-o", column])]);
    expect(theirs.code).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
  });

  it("sorts numbers numerically with the rows without a value first, in every output", async () => {
    const statuses = (await ls(["--sort-by", ".status", "-o", "jsonpath={.items[*].status}"])).stdout.split(" ");
    const nulls = statuses.filter((s) => s === "null").length;
    expect(nulls).toBeGreaterThan(0);
    expect(statuses.slice(0, nulls).every((s) => s === "null")).toBe(true);
    const numbers = statuses.slice(nulls).map(Number);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    const json: ExchangeRow[] = JSON.parse((await ls(["--sort-by", ".durationMs", "-o", "json"])).stdout);
    expect(json.map((r) => r.durationMs)).toEqual(json.map((r) => r.durationMs).sort((a, b) => a - b));
    const table = (await ls(["--sort-by", ".id", "--no-headers"])).stdout.trimEnd().split("\n").map((l) => Number(l.split(/\s+/)[0]));
    expect(table).toEqual([...table].sort((a, b) => a - b));
  });

  it("takes templates and --sort-by on stats and flags, over their -o json shapes", async () => {
    const p99 = (await kubewire(["stats", "--db", db, "--sort-by", ".p99Ms", "-o", "jsonpath={.items[*].p99Ms}"])).stdout.split(" ").map(Number);
    expect(p99.length).toBeGreaterThan(2);
    expect(p99).toEqual([...p99].sort((a, b) => a - b));
    const flags = await kubewire(["flags", "--db", db, "--sort-by", ".count", "-o", "custom-columns=KIND:.kind,COUNT:.count,IDS:.requestIds[*]"]);
    const lines = flags.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^KIND +COUNT +IDS$/);
    const counts = lines.slice(1).map((l) => Number(l.split(/\s+/)[1]));
    expect(counts.length).toBeGreaterThan(1);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(lines.find((l) => l.startsWith("forbidden "))).toMatch(/^forbidden +2 +\d+,\d+$/);
    expect(flags.code).toBe(1); // still the CI gate
  });

  it("prints one exchange with show -o jsonpath and custom-columns", async () => {
    const id = viewer.find((r) => r.status === 403 && r.group === "apps")!.id;
    const r = await kubewire(["show", String(id), "--db", db, "-o", `jsonpath={.info.verb} {.info.resource}.{.info.apiGroup} {.response.status}{"\\n"}`]);
    expect(r.stdout).toBe("list deployments.apps 403\n");
    const cols = await kubewire(["show", String(id), "--db", db, "-o", "custom-columns=ID:.id,STATUS:.response.status,FLAG:.flags[*].kind"]);
    expect(cols.stdout).toBe(`${"ID".padEnd(6)}${"STATUS".padEnd(9)}FLAG\n${String(id).padEnd(6)}${"403".padEnd(9)}forbidden\n`);
  });

  it("takes templates on replay and doctor, over their -o json objects", async () => {
    const id = viewer.find((r) => r.status === 403)!.id;
    const [replay, doctor] = await Promise.all([
      kubewire(["replay", String(id), "--dry-run", "--db", db, "--kubeconfig", world.kubeconfig, "-o", "jsonpath={.dryRun} {.wouldSend[*].id} {.wouldSend[0].context}"]),
      kubewire(["doctor", "--kubeconfig", world.kubeconfig, "--context", "demo-refused", "--timeout", "1s", "--state-dir", join(world.dir, "state-doctor"), "--db", join(world.dir, "doctor.db"), "-o", "custom-columns=OK:.ok,CONTEXT:.context"]),
    ]);
    expect(replay.stdout).toBe(`true ${id} demo-viewer`);
    expect(doctor.stdout).toBe("OK      CONTEXT\nfalse   demo-refused\n");
    expect(doctor.code).toBe(1);
  });

  it("applies a template to each exchange of a watch, the header once, and sorts only what was recorded before", async () => {
    const w = await viewerLs(["-w", "--limit", "100", "--stop-after", "300ms", "-o", `jsonpath={.id}{"\\n"}`]);
    expect(w.stdout).toBe(viewer.map((r) => `${r.id}\n`).join(""));
    const t = await kubewire(["tail", "--db", db, "--context", "demo-viewer", "--backlog", "100", "--stop-after", "300ms", "--sort-by", ".status", "-o", "custom-columns=ID:.id,STATUS:.status"]);
    expect(t.stderr).toBe("warning: --sort-by orders the exchanges already recorded; new ones print as they come\n");
    const lines = t.stdout.trimEnd().split("\n");
    expect(lines.filter((l) => l.startsWith("ID "))).toHaveLength(1);
    const statuses = lines.slice(1).map((l) => Number(l.split(/\s+/)[1]));
    expect(statuses).toEqual([...statuses].sort((a, b) => a - b));
  });

  it("reads templates and column specs from files", async () => {
    const template = join(world.dir, "t.txt");
    const columns = join(world.dir, "c.txt");
    writeFileSync(template, `{range .items[*]}{.id}{"\\n"}{end}`);
    writeFileSync(columns, "ID        VERB\n.id       {.verb}\n");
    expect((await viewerLs(["-o", `jsonpath-file=${template}`])).stdout).toBe(viewer.map((r) => `${r.id}\n`).join(""));
    expect((await viewerLs(["-o", `custom-columns-file=${columns}`])).stdout).toBe((await viewerLs(["-o", "custom-columns=ID:.id,VERB:.verb"])).stdout);
  });

  it.each([
    [["ls", "-o", "jsonpath={.items[0"], 'error: -o jsonpath: cannot parse "{.items[0": unterminated array'],
    [["ls", "-o", "jsonpath={.items[0].verb"], 'error: -o jsonpath: cannot parse "{.items[0].verb": unclosed action'],
    [["ls", "-o", "jsonpath={.items[999]}"], /^error: -o jsonpath: executing "\{\.items\[999\]\}": array index out of bounds: index 999, length \d+$/],
    [["ls", "-o", "jsonpath={.items[?(@.path==403)]}"], 'error: -o jsonpath: executing "{.items[?(@.path==403)]}": incompatible types for comparison (string == number)'],
    [["ls", "-o", "jsonpath={.items[*]}{end}"], 'error: -o jsonpath: cannot parse "{.items[*]}{end}": not in range, nothing to end'],
    [["ls", "-o", "jsonpath"], /^error: -o jsonpath needs a template: -o jsonpath=/],
    [["ls", "-o", "custom-columns=ID"], "error: -o custom-columns: unexpected custom-columns spec: ID, expected <header>:<json-path-expr>"],
    [["ls", "-o", "custom-columns=ID:{.id"], /^error: -o custom-columns: cannot parse "\{\.id": unexpected path string/],
    [["ls", "-o", "jsonpath-file=/nonexistent/t.txt"], "error: -o jsonpath-file: cannot read /nonexistent/t.txt: ENOENT"],
    [["ls", "--sort-by", ".nothing"], 'error: --sort-by: couldn\'t find any field with path "{.nothing}" in the list of objects'],
    [["ls", "--sort-by", ".error"], "error: --sort-by: {.error} holds a map: sort by a number, a string or a boolean inside it"],
    [["ls", "--sort-by", "{.a"], /^error: --sort-by: cannot parse "\{\.a": /],
    [["stats", "-o", "wide"], "error: -o wide is not supported here; choose one of: table, json, yaml, jsonpath=TEMPLATE, jsonpath-file=FILE, jsonpath-as-json=TEMPLATE, custom-columns=SPEC, custom-columns-file=FILE"],
  ])("refuses %j in one line with exit 2", async (args, message) => {
    const r = await kubewire([...args, "--db", db]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    if (typeof message === "string") expect(lines[0]).toBe(message);
    else expect(lines[0]).toMatch(message);
  });
});

describe("the jsonpath dialect, unit by unit, as kubectl prints it", () => {
  const obj = {
    metadata: { name: "x", labels: { b: "2", a: "1" } },
    id: 7, ratio: 0.25, big: 1234567, arr: [1, "two", { z: 1, a: null }], nul: null, t: true, html: "<a&b>",
  };
  it.each([
    ["{.id} {.ratio} {.big} {.nul} {.t} {.html}", "7 0.25 1234567 null true <a&b>"],
    ["{.metadata.labels} {.arr}", '{"a":"1","b":"2"} [1,"two",{"a":null,"z":1}]'],
    ["{.arr[-1].z}{.arr[0:2]}", "11 two"],
    ["{.arr[?(@.z==1)].z}", "1"],
    ["{.metadata['name','labels']}", 'x {"a":"1","b":"2"}'],
    ["{..a}", "null 1"], // kubectl's order is Go's random map order; kubewire's is by sorted key
    ["{.missing}|{.metadata.missing.deeper}|", "||"],
    ["{range .arr[*]}[{@}]{end} after", '[1][two][{"a":null,"z":1}] after'],
    ["{range .none[*]}x{end}after", "after"],
    [`{.id}{"\\t"}{'\\n'}{"\\u00e9"}`, "7\t\né"],
  ])("%s", (template, expected) => {
    expect(JsonPath.parse(template).text(obj)).toBe(expected);
  });
});

describe("wire text in templates", () => {
  it("reaches the terminal escaped, in jsonpath and custom-columns alike (JSON keeps its own escapes)", () => {
    const rows = [{ id: 1, path: "/api/\x1b[2Jx\u202e" }];
    expect(printList(templatePrinter("jsonpath={.items[0].path} {.items[0]}")!, rows)).toBe('/api/\\x1b[2Jx\\u202e {"id":1,"path":"/api/\\u001b[2Jx\\u202e"}');
    expect(printList(templatePrinter("custom-columns=PATH:.path")!, rows)).toBe("PATH\n/api/\\x1b[2Jx\\u202e\n");
    const asJson = printList(templatePrinter("jsonpath-as-json={.items[0].path}")!, [{ path: "a\u0085b\u202e" }]);
    expect(asJson).toBe('[\n    "a\\u0085b\\u202e"\n]\n');
    expect(JSON.parse(asJson)).toEqual(["a\u0085b\u202e"]);
  });
});

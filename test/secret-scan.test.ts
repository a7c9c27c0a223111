// The attacker's scan: a real kubectl session handling Secrets through kubewire, hand-made
// requests that carry secrets in every shape, then every file kubewire wrote and every line it
// printed searched for each secret in plain, base64, base64url and gzip-decoded forms.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordingSession } from "../src/session/recording-session.js";
import { bytesField } from "../src/proxy/protobuf.js";
import { Store } from "../src/store/store.js";
import { demoWorld, eventually, KUBECTL, kubectl, kubewire, record, recorded, ROOT, run, type Run, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);

/** Each secret appears once in the session below, in the place its name says. */
const SECRETS: Record<string, string> = {
  applied: "applied-stringdata-Qx7vW2",
  appliedKey: "applied-second-Lm4pZ8",
  patchedAdd: "patched-add-token-Z9kR3t",
  patchedReplace: "replaced-data-M3pYh6",
  absolute: "absolute-form-R2wJd5",
  tokenReview: "tokenreview-no-kind-H8jQs1",
  wsBearer: "ws-bearer-token-P4nVc9",
  wsBearerUpgrade: "ws-bearer-upgrade-T7gLw3",
  protobuf: "protobuf-posted-K5tXe2",
  protobufString: "protobuf-stringdata-B6uNa4",
  seeded: "s3cr3t-demo", // the simulated cluster's own db-credentials Secret
  queryToken: "query-access-token-W3rFk8",
};

/** Clear the screen, retitle the terminal, then a C1 CSI: what a hostile name or message could do to a terminal. */
const HOSTILE = "%1b%5b2J%1b%5d0%3bpwned%07%c2%9b31m";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const b64url = (s: string) => Buffer.from(s).toString("base64url");

/** The forms a secret could leak in: as itself, and encoded as Secrets and headers carry it. */
function forms(secret: string): string[] {
  const std = b64(secret);
  return [secret, std, std.replace(/=+$/, ""), b64url(secret)];
}

/** What a file or an output says, plus everything hidden in it: base64 runs decoded, gzip streams inflated. */
function haystacks(data: Buffer): string[] {
  const out = [data.toString("latin1")];
  const gunzipAll = (buf: Buffer) => {
    for (let i = buf.indexOf(Buffer.from([0x1f, 0x8b])); i !== -1; i = buf.indexOf(Buffer.from([0x1f, 0x8b]), i + 1)) {
      try {
        out.push(gunzipSync(buf.subarray(i), { finishFlush: 2 }).toString("latin1"));
      } catch {
        /* not a gzip stream */
      }
    }
  };
  gunzipAll(data);
  for (const m of data.toString("latin1").matchAll(/[A-Za-z0-9+/_-]{16,}={0,2}/g)) {
    const decoded = Buffer.from(m[0].replace(/-/g, "+").replace(/_/g, "/"), "base64");
    out.push(decoded.toString("latin1"));
    gunzipAll(decoded);
  }
  return out;
}

function leaks(where: string, data: Buffer | string): string[] {
  const hay = haystacks(Buffer.isBuffer(data) ? data : Buffer.from(data));
  const found: string[] = [];
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const form of forms(secret)) if (hay.some((h) => h.includes(form))) found.push(`${name} (${form}) in ${where}`);
  }
  return found;
}

/** A request to the proxy by hand, with the proxy token; `target` may be an absolute-form URL. */
function raw(session: RecordingSession, method: string, target: string, headers: Record<string, string>, body?: Buffer | string): Promise<number> {
  const { url, caPem, token } = session.client;
  return new Promise((resolve, reject) => {
    const req = https.request({ host: url.hostname, port: url.port, method, path: target, ca: caPem, headers: { Authorization: `Bearer ${token}`, ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A WebSocket upgrade by hand (as a browser exec client makes it); resolves with the status once answered. */
function upgrade(session: RecordingSession, target: string, headers: Record<string, string>): Promise<number> {
  const { url, caPem, token } = session.client;
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: url.hostname,
      port: url.port,
      path: target,
      ca: caPem,
      headers: { Authorization: `Bearer ${token}`, Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": randomBytes(16).toString("base64"), ...headers },
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

/** kubectl get secrets -w: once `name` is listed, runs `during`, then stops when `name` has printed `rows` rows. */
function watchWhile(kubeconfig: string, name: string, rows: number, during: () => Promise<void>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBECTL, ["--kubeconfig", kubeconfig, "--cache-dir", `${kubeconfig}.cache`, "get", "secrets", "-w"]);
    let out = "";
    let done: Promise<void> | null = null;
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      const seen = out.split("\n").filter((l) => l.startsWith(`${name} `)).length;
      if (!done && seen >= 1) done = during();
      if (seen >= rows) child.kill();
    });
    child.on("error", reject);
    child.on("close", () => (done ?? Promise.resolve()).then(() => resolve(out), reject));
  });
}

const protobufSecret = (): Buffer => {
  const entry = (no: number, k: string, v: string) => bytesField(no, Buffer.concat([bytesField(1, k), bytesField(2, v)]));
  const raw = Buffer.concat([bytesField(1, bytesField(1, "posted-pb")), entry(2, "key", SECRETS.protobuf), bytesField(3, "Opaque"), entry(4, "other", SECRETS.protobufString)]);
  return Buffer.concat([Buffer.from("k8s\0", "latin1"), bytesField(1, Buffer.concat([bytesField(1, "v1"), bytesField(2, "Secret")])), bytesField(2, raw)]);
};

describe.skipIf(!haveKubectl)("an attacker scanning what kubewire kept", () => {
  let world: World;
  let session: RecordingSession;
  let dbDir: string;
  let db: string;
  const outputs: Array<{ where: string; run: Run }> = [];

  beforeAll(async () => {
    world = await demoWorld();
    dbDir = join(world.dir, "recording");
    mkdirSync(dbDir);
    db = join(dbDir, "scan.db");
    session = await record(world, "demo-admin", { db });
    const kc = session.kubeconfigPath;
    const inputs = join(world.dir, "inputs");
    mkdirSync(inputs);

    // kubectl apply of a Secret with stringData: kubectl stores it all in the last-applied annotation
    const manifest = join(inputs, "secret.yaml");
    writeFileSync(manifest, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-creds\n  namespace: default\nstringData:\n  password: ${SECRETS.applied}\n  second: ${SECRETS.appliedKey}\n`);
    const applied = await kubectl(kc, ["apply", "--validate=false", "-f", manifest]);
    expect(applied.stderr).toBe("");
    expect(applied.stdout).toContain("secret/app-creds created");
    // kubectl create token: a TokenRequest whose answer carries a service account token the cluster accepts
    const created = await kubectl(kc, ["create", "token", "default"]);
    expect(created.stderr).toBe("");
    SECRETS.createdToken = created.stdout.trim();
    expect(SECRETS.createdToken.split(".")).toHaveLength(3);
    expect((await kubectl(world.kubeconfig, ["--token", SECRETS.createdToken, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"])).stdout).toBe("system:serviceaccount:default:default");
    // a Secret made without kubewire, read back below through an absolute-form target
    const direct = await kubectl(world.kubeconfig, ["create", "secret", "generic", "direct", `--from-literal=v=${SECRETS.absolute}`]);
    expect(direct.code).toBe(0);

    expect((await kubectl(kc, ["get", "secrets"])).stdout).toContain("app-creds");
    expect((await kubectl(kc, ["get", "secrets", "-o", "yaml"])).stdout).toContain("app-creds");
    const watched = await watchWhile(kc, "app-creds", 3, async () => {
      const add = await kubectl(kc, ["patch", "secret", "app-creds", "--type=json", "-p", JSON.stringify([{ op: "add", path: "/data/token", value: b64(SECRETS.patchedAdd) }])]);
      expect(add.stdout).toContain("patched");
      const replace = await kubectl(kc, ["patch", "secret", "app-creds", "--type=json", "-p", JSON.stringify([{ op: "replace", path: "/data", value: { only: b64(SECRETS.patchedReplace) } }])]);
      expect(replace.stdout).toContain("patched");
    });
    expect(watched.split("\n").filter((l) => l.startsWith("app-creds ")).length).toBe(3); // listed, then modified twice

    // hand-made requests
    const { url } = session.client;
    expect(await raw(session, "GET", `https://${url.host}/api/v1/namespaces/default/secrets/direct`, { Accept: "application/json" })).toBe(200);
    expect(await raw(session, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", { "Content-Type": "application/json" }, JSON.stringify({ apiVersion: "authentication.k8s.io/v1", spec: { token: SECRETS.tokenReview } }))).toBe(201);
    expect(await raw(session, "GET", `/api/v1/namespaces/default/pods?limit=1&access_token=${SECRETS.queryToken}`, { Accept: "application/json" })).toBe(200);
    await raw(session, "GET", "/api/v1/namespaces/default/pods", { "Sec-WebSocket-Protocol": `v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.${b64url(SECRETS.wsBearer)}` });
    const bearer = `v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.${b64url(SECRETS.wsBearerUpgrade)}`;
    expect(await upgrade(session, "/api/v1/namespaces/default/pods/web-1/exec?command=true&stdout=true", { "Sec-WebSocket-Protocol": bearer })).toBe(101);
    expect(await raw(session, "POST", "/api/v1/namespaces/default/secrets", { "Content-Type": "application/vnd.kubernetes.protobuf", Accept: "application/json" }, protobufSecret())).toBe(201);
    expect((await kubectl(kc, ["get", "secret", "posted-pb", "-o", "yaml"])).stdout).toContain("posted-pb");
    // names that are terminal escape sequences: the API server quotes them back in its 403 and 404 messages
    expect(await raw(session, "GET", `/api/v1/namespaces/default/secrets/${HOSTILE}`, { "Impersonate-User": "nobody", Accept: "application/json" })).toBe(403);
    expect(await raw(session, "GET", `/api/v1/namespaces/default/configmaps/${HOSTILE}`, { Accept: "application/json" })).toBe(404);

    await eventually(async () => ((await recorded(session)).some(({ row }) => row.subresource === "exec") ? true : undefined));
    const rows = await recorded(session);
    const cli = async (where: string, args: string[]) => outputs.push({ where, run: await kubewire([...args, "--db", db]) });
    await Promise.all([cli("ls", ["ls"]), cli("ls -o wide", ["ls", "-o", "wide"]), cli("flags", ["flags"]), cli("tail", ["tail", "--backlog", "1000", "--stop-after", "10ms", "-o", "wide"]), cli("export --har", ["export", "--har", "-"]), cli("export --jsonl", ["export", "--jsonl", "-"])]);
    // `kubewire show ID` for every exchange: the CLI's own main() once per ID, in one process to spare the start-ups
    const ids = rows.map(({ row }) => row.id);
    const driver = `import { main } from ${JSON.stringify(join(ROOT, "dist/cli/main.js"))};
      for (const id of ${JSON.stringify(ids.map(String))}) {
        process.stdout.write("=== show " + id + "\\n");
        await main(["node", "kubewire", "show", id, "--db", ${JSON.stringify(db)}]);
      }`;
    const shows = await run(process.execPath, ["--input-type=module", "-e", driver], { timeoutMs: 120_000 });
    for (const page of shows.stdout.split(/^=== /m).filter(Boolean)) outputs.push({ where: page.split("\n")[0], run: { code: shows.code, stdout: page, stderr: "" } });
    outputs.push({ where: "show (stderr)", run: { ...shows, stdout: "" } });
  }, 150_000); // a whole session and ~40 CLI runs: generous for a machine busy with other suites

  afterAll(async () => {
    await session?.stop(100);
    await world?.close();
  });

  it("answered the whole session, so every secret crossed the proxy", async () => {
    const rows = await recorded(session);
    const seen = (pred: (r: (typeof rows)[number]["row"]) => boolean) => rows.some(({ row }) => pred(row));
    expect(seen((r) => r.verb === "create" && r.resource === "secrets" && r.status === 201)).toBe(true);
    expect(seen((r) => r.verb === "patch" && r.resource === "secrets" && r.status === 200)).toBe(true);
    const watch = rows.find(({ row }) => row.verb === "watch" && row.resource === "secrets");
    expect(watch?.ex.response?.body?.data.match(/"type":"MODIFIED"/g)).toHaveLength(2);
    expect(seen((r) => r.resource === "secrets" && r.name === "direct" && r.status === 200)).toBe(true);
    expect(seen((r) => r.resource === "tokenreviews" && r.status === 201)).toBe(true);
    const exec = rows.find(({ row }) => row.subresource === "exec")!;
    expect(exec.ex.request.headers["sec-websocket-protocol"]).toBe(`v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.[redacted]`);
    for (const { where, run } of outputs) expect(run.code, `${where}: ${run.stderr}`).toBeLessThan(2);
  });

  it("finds no secret in any database file: main, -wal, -shm or spill", async () => {
    await session.recorder.flush();
    const files = readdirSync(dbDir);
    expect(files).toContain("scan.db");
    const found = files.flatMap((f) => leaks(f, readFileSync(join(dbDir, f))));
    expect(found).toEqual([]);
  });

  it("finds no secret in the HAR or the JSONL export", () => {
    const exports = outputs.filter((o) => o.where.startsWith("export"));
    expect(exports).toHaveLength(2);
    for (const { run } of exports) expect(run.stdout.length).toBeGreaterThan(1000);
    expect(exports.flatMap(({ where, run }) => leaks(where, run.stdout + run.stderr))).toEqual([]);
  });

  it("finds no secret in what ls, flags and show print, stderr included", () => {
    const shown = outputs.filter((o) => /^show \d+/.test(o.where));
    expect(shown.length).toBeGreaterThan(10);
    for (const { where, run } of shown) expect(run.stdout, where).toContain("Exchange ");
    expect(outputs.flatMap(({ where, run }) => leaks(where, run.stdout + run.stderr))).toEqual([]);
  });

  it("recorded kubectl's table of secrets with row metadata whose last-applied annotation is redacted", async () => {
    const rows = await recorded(session);
    const table = rows.find(({ ex }) => ex.info.verb === "list" && ex.info.resource === "secrets" && String(ex.request.headers.accept).includes("as=Table"));
    const body = JSON.parse(table!.ex.response!.body!.data);
    const row = body.rows.find((r: { cells: unknown[] }) => r.cells[0] === "app-creds");
    expect(row.object).toMatchObject({ kind: "PartialObjectMetadata", metadata: { annotations: { "kubectl.kubernetes.io/last-applied-configuration": "[redacted]" } } });
  });

  it("prints no terminal control character that came from the wire, showing each escaped", () => {
    for (const { where, run } of outputs.filter((o) => !o.where.startsWith("export"))) {
      expect(run.stdout + run.stderr, where).not.toMatch(/[\u001b\u0007\u009b]/);
    }
    const pages = outputs.filter(({ where, run }) => /^show \d+/.test(where) && run.stdout.includes("pwned"));
    expect(pages.length).toBe(2);
    for (const { run } of pages) expect(run.stdout).toContain("\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m");
    expect(outputs.find((o) => o.where === "tail")!.run.stdout).toContain("\\x1b[2J");
    const flags = outputs.find((o) => o.where === "flags")!;
    expect(flags.run.stdout).toContain("forbidden");
    expect(flags.run.stdout).toContain("\\x1b[2J");
  });

  it("exports the posted protobuf Secret to HAR as its field tree, and imports it back byte for byte", async () => {
    const har = JSON.parse(outputs.find((o) => o.where === "export --har")!.run.stdout);
    const entry = har.log.entries.find((e: { request: { url: string; postData?: { mimeType: string } } }) => e.request.postData?.mimeType === "application/vnd.kubernetes.protobuf" && e.request.url.endsWith("/api/v1/namespaces/default/secrets"));
    expect(entry.request.postData.text).toContain('# Kubernetes protobuf: apiVersion "v1" kind "Secret"');
    expect(entry.request.postData.text).toContain('2: "[redacted]"');
    const file = join(world.dir, "scan.har");
    writeFileSync(file, JSON.stringify(har));
    const copy = join(world.dir, "imported.db");
    expect((await kubewire(["import", "--har", file, "--db", copy])).code).toBe(0);
    const original = (await recorded(session)).find(({ ex }) => ex.request.headers["content-type"] === "application/vnd.kubernetes.protobuf" && ex.request.path === "/api/v1/namespaces/default/secrets")!.ex.request.body;
    const store = Store.open(copy, { readonly: true });
    try {
      const imported = store.list({}).map((r) => store.get(r.id)!).find((ex) => ex.request.path === "/api/v1/namespaces/default/secrets" && ex.request.method === "POST" && ex.request.body?.encoding === "base64");
      expect(imported?.request.body).toEqual(original);
    } finally {
      store.close();
    }
  });

  it("shows the posted protobuf Secret as a field tree with its values redacted", () => {
    const page = outputs.find(({ run }) => run.stdout.includes("# Kubernetes protobuf: apiVersion \"v1\" kind \"Secret\""));
    expect(page).toBeDefined();
    expect(page!.run.stdout).toContain('"[redacted]"');
    expect(page!.run.stdout).toContain('"key"');
  });
});

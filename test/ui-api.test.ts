// The web view's JSON API without a browser: the token, the Host check and the headers every
// answer carries; `ls` filters and keyset pages; one exchange in the `show -o json` shape with
// its flags explained; live rows over server-sent events; replay's confirmation rule.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { demoWorld, eventually, kubectl, kubewire, KUBECTL, record, ROOT, type World } from "./helpers/world.js";
import type { RecordingSession } from "../src/session/recording-session.js";
import { startUiServer, type UiServer } from "../src/ui/server.js";

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function call(ui: UiServer, path: string, headers: Record<string, string> = {}, method = "GET", body?: string): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = http.request({ host: "127.0.0.1", port: ui.port, path, method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => done({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on("error", fail);
    req.end(body);
  });
}

describe("kubewire ui's API", () => {
  let world: World;
  let session: RecordingSession;
  let ui: UiServer;
  let kc: string;
  const bearer = () => ({ authorization: `Bearer ${ui.token}` });
  const api = async (path: string) => JSON.parse((await call(ui, path, bearer())).body);

  beforeAll(async () => {
    world = await demoWorld();
    session = await record(world, "demo-viewer", { db: join(world.dir, "ui.db") });
    kc = session.kubeconfigPath;
    await kubectl(kc, ["get", "pods", "-n", "kube-system"]);
    await kubectl(kc, ["get", "pods"]);
    await session.recorder.flush();
    ui = await startUiServer({ db: session.dbPath, pollMs: 50 });
  });

  afterAll(async () => {
    await ui?.close();
    await session?.stop(100);
    await world?.close();
  });

  it("refuses every API call without the token, and with a wrong one", async () => {
    expect((await call(ui, "/api/exchanges")).status).toBe(401);
    expect((await call(ui, "/api/exchanges", { authorization: "Bearer nope" })).status).toBe(401);
    expect((await call(ui, "/api/exchanges", { cookie: `kubewire_ui_${ui.port}=nope` })).status).toBe(401);
    expect((await call(ui, "/")).status).toBe(401);
  });

  it("refuses a foreign Host header even with the token (no DNS rebinding)", async () => {
    const r = await call(ui, "/api/exchanges", { ...bearer(), host: `evil.example:${ui.port}` });
    expect(r.status).toBe(421);
    expect((await call(ui, "/api/exchanges", { ...bearer(), host: `localhost:${ui.port}` })).status).toBe(200);
  });

  it("trades the URL's token for an HttpOnly SameSite=Strict cookie and strips it from the address", async () => {
    const r = await call(ui, `/?token=${ui.token}`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe("/");
    const cookie = r.headers["set-cookie"]![0];
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await call(ui, "/", { cookie: cookie.split(";")[0] });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script type="module" src="/app.js">');
    expect((await call(ui, `/?token=wrong`)).status).toBe(401);
  });

  it("sends a strict Content-Security-Policy and no CORS header, even to a foreign Origin", async () => {
    const r = await call(ui, "/api/exchanges", { ...bearer(), origin: "https://evil.example" });
    expect(r.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(r.headers["content-security-policy"]).not.toContain("unsafe-inline");
    expect(r.headers["access-control-allow-origin"]).toBeUndefined();
    const pre = await call(ui, "/api/replay", { origin: "https://evil.example", "access-control-request-method": "POST" }, "OPTIONS");
    expect(pre.status).toBe(401);
    expect(pre.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("lists exchanges newest first with ls's filters, paged by id", async () => {
    const all = await api("/api/exchanges");
    const ids = all.items.map((r: { id: number }) => r.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => b - a));
    const forbidden = await api("/api/exchanges?status=403");
    expect(forbidden.items.length).toBeGreaterThan(0);
    expect(forbidden.items.every((r: { status: number; namespace: string }) => r.status === 403 && r.namespace === "kube-system")).toBe(true);
    const first = await api("/api/exchanges?limit=2");
    const second = await api(`/api/exchanges?limit=2&before=${first.next}`);
    expect(second.items[0].id).toBeLessThan(first.items[1].id);
    expect((await api("/api/exchanges?verb=list&resource=pods&namespace=kube-system&flag=forbidden")).items).toHaveLength(forbidden.items.length);
    expect((await call(ui, "/api/exchanges?status=abc", bearer())).status).toBe(400);
  });

  it("selects by where exchanges were recorded with ls's --source grammar, and names a bad selector", async () => {
    const all = (await api("/api/exchanges")).items;
    expect(all.every((r: { source?: { run?: string } }) => r.source?.run === session.source.run)).toBe(true);
    const mine = await api(`/api/exchanges?source=${encodeURIComponent(`run=${session.source.run}`)}`);
    expect(mine.items.map((r: { id: number }) => r.id)).toEqual(all.map((r: { id: number }) => r.id));
    expect((await api("/api/exchanges?source=run%3Delsewhere")).items).toEqual([]);
    expect((await api(`/api/stats?source=run%3Delsewhere`)).groups).toEqual([]);
    const bad = await call(ui, "/api/exchanges?source=colour%3Dred", bearer());
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toBe('source "colour=red": "colour" is not a source key');
  });

  it("answers one exchange in the show -o json shape, with its flags explained and the command by hand", async () => {
    const [row] = (await api("/api/exchanges?status=403")).items;
    const ex = await api(`/api/exchanges/${row.id}`);
    const cli = JSON.parse((await kubewire(["show", String(row.id), "--db", session.dbPath, "-o", "json"])).stdout);
    expect(Object.keys(ex)).toEqual(expect.arrayContaining(Object.keys(cli)));
    expect(ex.request).toEqual(cli.request);
    expect(ex.flags.map((f: { kind: string }) => f.kind)).toContain("forbidden");
    expect(ex.flags.find((f: { kind: string }) => f.kind === "forbidden").advice.join("\n")).toContain("kubectl");
    expect(ex.command).toBe(`kubectl --context demo-viewer get --raw '${row.path}${row.query ? `?${row.query}` : ""}'`);
    expect((await call(ui, "/api/exchanges/999999", bearer())).status).toBe(404);
    // what the recording redacted stays redacted: neither the user's token nor the proxy token is served
    const served = (await call(ui, `/api/exchanges/${row.id}`, bearer())).body;
    expect(served).not.toContain(world.cluster.users.viewer.token!);
    expect(served).not.toContain(session.client.token);
  });

  it("exports the filtered set as a HAR file", async () => {
    const r = await call(ui, "/api/export.har?status=403", bearer());
    expect(r.headers["content-disposition"]).toBe('attachment; filename="kubewire.har"');
    const har = JSON.parse(r.body);
    const forbidden = (await api("/api/exchanges?status=403")).items;
    expect(har.log.version).toBe("1.2");
    expect(har.log.entries.map((e: { response: { status: number } }) => e.response.status)).toEqual(forbidden.map(() => 403));
  });

  it("gives the timeline the Retry-After of each 429", async () => {
    await kubectl(kc, ["get", "pods", "-n", "throttled", "--request-timeout=3s"]);
    await session.recorder.flush();
    const t = await api("/api/timeline?status=429");
    expect(t.items.length).toBeGreaterThan(1);
    expect(t.items.map((r: { id: number }) => t.retryAfter[r.id])).toEqual(t.items.map(() => "1"));
  });

  it("summarises flags and latency per verb and resource", async () => {
    const flags = (await api("/api/flags")).flags;
    expect(flags.find((f: { kind: string }) => f.kind === "forbidden")).toMatchObject({ severity: "error" });
    const groups = (await api("/api/stats")).groups;
    expect(groups.find((g: { verb: string; resource: string }) => g.verb === "list" && g.resource === "pods").percentiles).toHaveLength(3);
  });

  it("streams an exchange recorded after the page opened as a server-sent event", async () => {
    const lastId = (await api("/api/meta")).lastId;
    const got = new Promise<string>((done, fail) => {
      const req = http.get({ host: "127.0.0.1", port: ui.port, path: `/api/events?after=${lastId}&status=403`, headers: bearer() }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          text += c;
          if (text.includes("event: exchanges")) {
            req.destroy();
            done(text);
          }
        });
      });
      req.on("error", (e) => (e.message.includes("aborted") ? undefined : fail(e)));
    });
    await kubectl(kc, ["get", "secrets", "-n", "kube-system"]);
    await session.recorder.flush();
    const text = await got;
    const data = JSON.parse(text.split("event: exchanges\ndata: ")[1].split("\n")[0]);
    expect(data.every((r: { id: number; status: number }) => r.id > lastId && r.status === 403)).toBe(true);
    expect(data.some((r: { resource: string }) => r.resource === "secrets")).toBe(true);
  });

  it("refuses to replay a mutation until it is confirmed, and replay needs JSON", async () => {
    await kubectl(kc, ["delete", "pod", "nginx", "-n", "kube-system", "--wait=false"]);
    await session.recorder.flush();
    const del = await eventually(async () => (await api("/api/exchanges?verb=delete")).items[0]);
    const r = await call(ui, "/api/replay", { ...bearer(), "content-type": "application/json" }, "POST", JSON.stringify({ id: del.id }));
    expect(r.status).toBe(409);
    expect(JSON.parse(r.body)).toEqual({ error: "delete changes state in the cluster; confirm to replay it", needsConfirmation: true });
    const confirmed = await call(ui, "/api/replay", { ...bearer(), "content-type": "application/json" }, "POST", JSON.stringify({ id: del.id, confirm: true }));
    expect(confirmed.status).toBe(501); // this server was started without a replayer; the browser test replays for real
    const form = await call(ui, "/api/replay", { ...bearer(), "content-type": "application/x-www-form-urlencoded" }, "POST", `id=${del.id}`);
    expect(form.status).toBe(415);
  });

  it("is served by exec --ui while the command runs, stays up after it, and stops on Ctrl-C with the command's exit code", async () => {
    const db = join(world.dir, "exec-ui.db");
    const child = spawn(process.execPath, [join(ROOT, "bin/kubewire.js"), "exec", "--ui", "--kubeconfig", world.kubeconfig, "--context", "demo-viewer",
      "--state-dir", join(world.dir, "state"), "--db", db, "--", KUBECTL, "--cache-dir", join(world.dir, "exec-cache"), "get", "pods", "-n", "kube-system"], { cwd: ROOT });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    try {
      await eventually(() => (stderr.includes("the web view stays open until Ctrl-C") ? true : undefined), 30_000);
      const url = new URL(/kubewire: web view: (\S+)/.exec(stderr)![1]);
      const token = url.searchParams.get("token")!;
      const res = await fetch(new URL("/api/exchanges?status=403", url), { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { items: { path: string }[] };
      expect(body.items.map((r) => r.path)).toContain("/api/v1/namespaces/kube-system/pods");
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(1); // kubectl's: Forbidden
  });

  it("is served by start --ui beside the proxy, and stops with it", async () => {
    const child = spawn(process.execPath, [join(ROOT, "bin/kubewire.js"), "start", "--ui", "--kubeconfig", world.kubeconfig, "--context", "demo-viewer",
      "--listen", "127.0.0.1:0", "--state-dir", join(world.dir, "state"), "--db", join(world.dir, "start-ui.db"), "--write-kubeconfig", join(world.dir, "start-ui.kubeconfig")], { cwd: ROOT });
    let stdout = "";
    child.stdout.on("data", (c) => (stdout += c));
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    try {
      const url = new URL(await eventually(() => /kubewire: web view: (\S+)/.exec(stdout)?.[1], 30_000));
      const meta = await fetch(new URL("/api/meta", url), { headers: { authorization: `Bearer ${url.searchParams.get("token")}` } });
      expect(meta.status).toBe(200);
      expect(((await meta.json()) as { db: string }).db).toBe(join(world.dir, "start-ui.db"));
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(0);
  });
});

// The control endpoint of a running `start`: `kubewire faults add|ls|rm` change its fault rules
// over HTTP on loopback, authenticated with the run's proxy token; found through a 0600 file
// (control-PID-PORT.json) in the state directory, removed on stop.
import { timingSafeEqual } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { liveRunFiles } from "../tls/state-dir.js";
import { DuplicateRule, type FaultEngine } from "../fault/engine.js";
import { ruleFrom, ruleFromInline, ruleToYamlObject, rulesFromYaml } from "../fault/rules.js";

export interface ControlFile {
  pid: number;
  url: string;
  token: string;
}

export interface ControlEndpoint {
  url: string;
  close(): Promise<void>;
}

const PREFIX = "control-";

/** The rules as `faults ls` shows them. */
export function listRules(engine: FaultEngine) {
  return engine.list().map((s) => ({ ...ruleToYamlObject(s.rule), matched: s.matched, fired: s.fired }));
}

function authorized(header: string | undefined, token: string): boolean {
  const want = Buffer.from(`Bearer ${token}`);
  const got = Buffer.from(header ?? "");
  return got.length === want.length && timingSafeEqual(got, want);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(`${JSON.stringify(body)}\n`);
}

/** POST /faults body: {"yaml": "faults: ..."} or {"inline": ["verb=list,status=429"]} or {"rules": [{...}]}. */
function rulesFromBody(engine: FaultEngine, body: Record<string, unknown>) {
  const first = engine.nextIndex();
  if (typeof body.yaml === "string") return rulesFromYaml(body.yaml, "rules file", first);
  if (Array.isArray(body.inline)) return body.inline.map((t, i) => ruleFromInline(String(t), first + i));
  if (Array.isArray(body.rules)) return body.rules.map((r, i) => ruleFrom(r, first + i));
  throw new UserError('expected {"yaml": ...}, {"inline": [...]} or {"rules": [...]}');
}

export async function startControl(engine: FaultEngine, token: string, stateDir: string): Promise<ControlEndpoint> {
  const server = http.createServer((req, res) => {
    if (!authorized(req.headers.authorization, token)) return send(res, 401, { error: "the run's token is required" });
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/faults") return send(res, 200, { faults: listRules(engine) });
    if (req.method === "DELETE" && path.startsWith("/faults/")) {
      const name = decodeURIComponent(path.slice("/faults/".length));
      return engine.remove(name) ? send(res, 200, { removed: name }) : send(res, 404, { error: `no fault rule named "${name}"` });
    }
    if (req.method === "POST" && path === "/faults") {
      let text = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => {
        text += c;
        if (text.length > 1_000_000) req.destroy();
      });
      req.on("end", () => {
        try {
          const rules = rulesFromBody(engine, JSON.parse(text));
          for (const r of rules) if (engine.list().some((s) => s.rule.name === r.name)) throw new DuplicateRule(r.name);
          for (const r of rules) engine.add(r);
          send(res, 200, { added: rules.map((r) => r.name) });
        } catch (err) {
          send(res, 400, { error: err instanceof UserError || err instanceof DuplicateRule || err instanceof SyntaxError ? err.message : String(err) });
        }
      });
      return;
    }
    send(res, 404, { error: "GET /faults, POST /faults, DELETE /faults/NAME" });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const file = join(stateDir, `${PREFIX}${process.pid}-${port}.json`);
  writeFileSync(file, JSON.stringify({ pid: process.pid, url, token } satisfies ControlFile), { mode: 0o600 });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        rmSync(file, { force: true });
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}


/** The control endpoints of running `start`s in this state directory (files of dead runs are removed). */
export function findControls(stateDir: string): ControlFile[] {
  return liveRunFiles<ControlFile>(stateDir, PREFIX);
}

/** One call to a control endpoint; a refusal becomes a UserError with the endpoint's words. */
export async function callControl(c: ControlFile, method: string, path: string, body?: unknown): Promise<any> {
  let res: Response;
  try {
    res = await fetch(`${c.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${c.token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (err) {
    throw new UserError(`cannot reach the kubewire run (pid ${c.pid}) at ${c.url}: ${(err as Error).message}`);
  }
  const answer = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new UserError(String(answer.error ?? `${res.status}`));
  return answer;
}

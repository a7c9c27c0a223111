// Numbers for dashboards, read by a real Prometheus: kubewire --metrics scraped every second on
// loopback, then queried through Prometheus' HTTP API after kubectl traffic (requests by verb and
// code, a latency quantile over client-go's buckets, injected faults by rule).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import type { RecordingSession } from "../src/session/recording-session.js";
import { serveMetrics } from "../src/metrics/server.js";
import { KubewireMetrics } from "../src/metrics/registry.js";
import { demoWorld, eventually, kubectl, record, type World } from "./helpers/world.js";

const PROMETHEUS = "/usr/bin/prometheus";
const available = existsSync(PROMETHEUS);
if (!available) console.warn("\n*** /usr/bin/prometheus is missing (apt-get install prometheus): the Prometheus scrape tests are SKIPPED ***\n");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(!available)("kubewire --metrics scraped by a real Prometheus", () => {
  let world: World;
  let session: RecordingSession;
  let prometheus: ChildProcess;
  let promUrl: string;
  const promLog: string[] = [];

  beforeAll(async () => {
    world = await demoWorld();
    session = await record(world, "demo-admin", {
      extras: { metrics: { host: "127.0.0.1", port: 0 }, rules: [], fault: ["rule=deny-secrets,verb=list,resource=secrets,status=403"] },
    });
    const target = new URL(session.extras?.metricsUrl!);
    const dir = join(world.dir, "prometheus");
    mkdirSync(dir);
    const config = join(dir, "prometheus.yml");
    writeFileSync(config, `global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: kubewire\n  static_configs:\n  - targets: ["${target.host}"]\n`);
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ["ignore", "ignore", "pipe"] });
    prometheus.stderr!.on("data", (d) => promLog.push(String(d)));
  }, 60_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus.once("exit", r));
      prometheus.kill("SIGTERM");
      await exited;
    }
    await session?.stop(100);
    await world?.close();
  });

  async function query(q: string): Promise<Sample[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { status: string; data: { result: Sample[] } };
    expect(body.status).toBe("success");
    return body.data.result;
  }

  it("answers kubewire_requests_total by verb and code and a latency quantile after kubectl traffic", async () => {
    for (let i = 0; i < 3; i++) expect((await kubectl(session.kubeconfigPath, ["get", "pods", "-n", "default"])).code).toBe(0);
    const denied = await kubectl(session.kubeconfigPath, ["get", "secrets", "-n", "default"]);
    expect(denied.stderr).toContain('Error from server (Forbidden): secrets is forbidden: User "demo-admin"');
    await session.recorder.flush();

    const byVerbCode = await eventually(
      async () => {
        const r = await query('sum by (verb, code) (kubewire_requests_total{resource=~"pods|secrets"})').catch(() => []);
        return r.some((s) => s.metric.verb === "list" && s.metric.code === "200" && s.value[1] === "3") && r.some((s) => s.metric.code === "403") ? r : undefined;
      },
      30_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; prometheus said: ${promLog.join("").slice(-2000)}`);
    });
    expect(byVerbCode.map((s) => [s.metric.verb, s.metric.code, s.value[1]]).sort()).toEqual([
      ["list", "200", "3"],
      ["list", "403", "1"],
    ]);

    const [p90] = await query('histogram_quantile(0.9, sum by (le) (kubewire_request_duration_seconds_bucket{verb="list"}))');
    const seconds = Number(p90.value[1]);
    expect(Number.isFinite(seconds)).toBe(true);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(60);

    const injected = await query("kubewire_injected_faults_total");
    expect(injected.map((s) => [s.metric.rule, s.metric.action, s.value[1]])).toEqual([["deny-secrets", "403", "1"]]);
    // kubectl's requests rode one HTTP/2 connection to the (h2) simulated cluster, still open
    const connections = await query("kubewire_upstream_connections");
    expect(Number(connections.find((c) => c.metric.protocol === "h2")?.value[1])).toBeGreaterThanOrEqual(1);
    const clients = await query("sum by (client) (kubewire_requests_total)");
    // kubectl sends its first request (GET /version) as kubectl-dispatcher
    expect(clients.map((s) => s.metric.client).sort()).toEqual(["kubectl", "kubectl-dispatcher"]);
  }, 90_000);
});

describe("the metrics endpoint", () => {
  it("refuses a non-loopback address without --allow-remote", async () => {
    await expect(serveMetrics(new KubewireMetrics(), { host: "0.0.0.0", port: 0 }, false)).rejects.toThrow("--metrics 0.0.0.0 is not a loopback address");
  });

  it("names every metric of the issue, with bounded labels only", async () => {
    const text = await new KubewireMetrics({ stats: () => ({ queued: 2, dropped: 0 }) }).text();
    for (const name of [
      "kubewire_requests_total", "kubewire_request_duration_seconds", "kubewire_request_phase_seconds", "kubewire_upstream_connections",
      "kubewire_upstream_connection_attempts_total", "kubewire_upstream_errors_total", "kubewire_watch_events_total", "kubewire_watches_open",
      "kubewire_throttled_total", "kubewire_upstream_certificate_expiry_seconds", "kubewire_injected_faults_total",
      "kubewire_recorder_queue_length", "kubewire_recorder_dropped_total",
    ]) expect(text).toContain(`# TYPE ${name} `);
    expect(text).toContain("kubewire_recorder_queue_length 2\n");
  });
});

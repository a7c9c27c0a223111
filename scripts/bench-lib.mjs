// scripts/bench helpers: child processes that announce readiness, /proc readings, hey and
// hyperfine output parsing, percentiles. Loopback only; every wait has a deadline.
import { spawn, execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Spawns a process and waits (up to timeoutMs) for a stdout line that `ready` turns into a
 * non-null value. stdin stays open as a pipe: helpers exit when it closes (the bench died).
 */
export function spawnReady(cmd, args, ready, { timeoutMs = 30_000, env, label = cmd } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: env ?? process.env });
    let out = "";
    let err = "";
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${label} not ready after ${timeoutMs} ms\n${out}${err}`)), timeoutMs);
    const finish = (e, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e) {
        proc.kill("SIGKILL");
        reject(e);
      } else resolve({ proc, info: value, stderr: () => err });
    };
    proc.stdout.setEncoding("utf8");
    proc.stderr.setEncoding("utf8");
    proc.stdout.on("data", (d) => {
      out += d;
      if (done) return;
      for (const line of out.split("\n")) {
        const v = ready(line);
        if (v != null) return finish(null, v);
      }
    });
    proc.stderr.on("data", (d) => {
      if (err.length < 20_000) err += d;
    });
    proc.once("exit", (code, sig) => finish(new Error(`${label} exited (${code ?? sig}) before it was ready\n${out}${err}`)));
    proc.once("error", (e) => finish(e));
  });
}

/** Sends SIGTERM, waits up to graceMs for the exit, then SIGKILL. Resolves with the exit code. */
export function stopProcess(proc, graceMs = 10_000) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc?.exitCode ?? null);
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    proc.once("exit", (code) => {
      clearTimeout(t);
      resolve(code);
    });
    proc.kill("SIGTERM");
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1");
      c.once("connect", () => (c.destroy(), resolve(true)));
      c.once("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** Resident set size of a process, in MiB (0 when it is gone). */
export function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

const TICK = 100; // USER_HZ on Linux
/** User+system CPU seconds a process (all its threads) has used. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICK; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

/**
 * Waits (at most maxMs) until none of the processes used more than 10% of a core over 200 ms:
 * a server keeps working for a while after a load run ends (closing 256 TLS connections takes
 * the demo cluster most of a second), and that would be charged to the variant that runs next.
 */
export async function quiet(pids, maxMs = 5000) {
  const live = pids.filter(Boolean);
  const end = Date.now() + maxMs;
  let prev = live.map(cpuSeconds);
  while (Date.now() < end) {
    await sleep(200);
    const now = live.map(cpuSeconds);
    const busiest = Math.max(0, ...now.map((v, i) => v - prev[i]));
    prev = now;
    if (busiest <= 0.02) return true;
  }
  return false;
}

export function run(cmd, args, { timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

/** Parses hey's text summary: req/s, latency percentiles (ms), responses by status, errors. */
export function parseHey(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : NaN;
  };
  const pct = (p) => num(new RegExp(`\\b${p}% in (\\d+(?:\\.\\d+)?) secs`)) * 1000;
  let responses = 0;
  const statuses = {};
  const codeBlock = /Status code distribution:\n([\s\S]*?)(?:\n\n|$)/.exec(text);
  if (codeBlock) {
    for (const m of codeBlock[1].matchAll(/\[(\d+)\]\s+(\d+) responses/g)) {
      statuses[m[1]] = Number(m[2]);
      responses += Number(m[2]);
    }
  }
  let errors = 0;
  const errBlock = /Error distribution:\n([\s\S]*?)(?:\n\n|$)/.exec(text);
  if (errBlock) for (const m of errBlock[1].matchAll(/\[(\d+)\]/g)) errors += Number(m[1]);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    totalSecs: num(/Total:\s+([\d.]+) secs/),
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    responses,
    statuses,
    errors,
    errorText: errBlock ? errBlock[1].trim().split("\n").slice(0, 3).join(" | ") : "",
  };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function median(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "n/a");

// Sends planned replays through a running kubewire proxy (so they are recorded like any other
// request), trusting its CA and using this run's proxy token (RecordingSession.client); bounded in parallel.
import https from "node:https";
import type { IncomingMessage } from "node:http";
import { REPLAY_HEADER } from "../proxy/headers.js";
import type { SendPlan } from "./safety-policy.js";

export interface ProxyTarget {
  url: URL;
  caPem: string;
  token: string;
}

/** What the client saw; the recorded replay exchange holds the rest. */
export interface SendResult {
  status: number | null;
  error: string | null;
  ms: number;
}

export interface SendOptions {
  target: ProxyTarget;
  agent: https.Agent;
  /** how long a watch or stream is kept open */
  watchSeconds: number;
  /** for ordinary requests: give up after this long */
  timeoutMs: number;
}

export function makeAgent(target: ProxyTarget, concurrency: number): https.Agent {
  return new https.Agent({ ca: target.caPem, keepAlive: true, maxSockets: concurrency });
}

/** Sends one replay of exchange `originalId` and resolves when it is over (never rejects). */
export function sendReplay(plan: SendPlan, originalId: number, o: SendOptions): Promise<SendResult> {
  const t0 = performance.now();
  const headers: Record<string, string | string[]> = { ...plan.headers, authorization: `Bearer ${o.target.token}`, [REPLAY_HEADER]: String(originalId) };
  if (plan.body) headers["content-length"] = String(plan.body.length);
  return new Promise((resolve) => {
    let status: number | null = null;
    let settled = false;
    const done = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, error, ms: performance.now() - t0 });
    };
    const req = https.request({
      host: o.target.url.hostname.replace(/^\[|\]$/g, ""),
      port: o.target.url.port,
      method: plan.method,
      path: plan.path + (plan.query ? `?${plan.query}` : ""),
      headers,
      ca: o.target.caPem,
      agent: plan.mode === "upgrade" ? false : o.agent,
    });
    const bounded = plan.mode === "watch" || plan.mode === "stream";
    // a watch ends on the server at timeoutSeconds; the client cut is the backstop (and ends a stream)
    const limit = bounded ? o.watchSeconds * 1000 + (plan.mode === "watch" ? 2000 : 0) : o.timeoutMs;
    const timer = setTimeout(() => {
      req.destroy();
      done(bounded && status !== null ? null : `no answer within ${Math.round(limit / 1000)}s`);
    }, limit);
    req.on("response", (res: IncomingMessage) => {
      status = res.statusCode ?? null;
      res.resume();
      res.on("end", () => done(null));
      res.on("error", (e) => done(e.message));
      res.on("close", () => done(null));
    });
    req.on("upgrade", (res: IncomingMessage, socket) => {
      status = res.statusCode ?? 101;
      socket.destroy();
      done(null);
    });
    req.on("error", (e) => done(e.message));
    req.end(plan.body ?? undefined);
  });
}

/** Runs fn over items with at most `limit` at a time, results in input order. */
export async function inParallel<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// pods/log: the made-up container output of each demo pod, as text/plain,
// with tailLines, timestamps and follow (a new line every 200 ms until the client goes away).
import type { ServerResponse } from "node:http";
import type { KObject } from "./store.js";

export interface LogOptions {
  tailLines?: number;
  timestamps: boolean;
  follow: boolean;
  intervalMs?: number;
  track: (stop: () => void) => () => void;
}

function lineFor(app: string, i: number, at: number): string {
  const t = new Date(at).toISOString();
  switch (app) {
    case "web":
      return `10.244.1.${1 + (i % 9)} - - [${t}] "GET /${i % 3 === 0 ? "healthz" : "index.html"} HTTP/1.1" 200 ${i % 3 === 0 ? 2 : 615} "-" "kube-probe/1.32"`;
    case "db":
      return `${t.replace("T", " ").replace("Z", " UTC")} [1] LOG:  checkpoint complete: wrote ${i % 50} buffers`;
    default:
      return `${app}: tick ${i}`;
  }
}

/** The lines a container has printed so far (fixed: twenty lines a minute apart, ending a minute ago). */
export function podLogLines(pod: KObject, now = Date.now()): { at: number; text: string }[] {
  const app = (pod.metadata.labels?.app as string | undefined) ?? pod.metadata.name;
  const lines: { at: number; text: string }[] = [];
  if (app === "web") lines.push({ at: now - 21 * 60_000, text: "/docker-entrypoint.sh: Configuration complete; ready for start up" });
  for (let i = 0; i < 20; i++) {
    const at = now - (20 - i) * 60_000;
    lines.push({ at, text: lineFor(app, i, at) });
  }
  return lines;
}

export function serveLogs(res: ServerResponse, pod: KObject, opts: LogOptions, headers: Record<string, string>): void {
  const fmt = (l: { at: number; text: string }): string => (opts.timestamps ? `${new Date(l.at).toISOString().replace("Z", "000000Z")} ` : "") + l.text + "\n";
  let lines = podLogLines(pod);
  if (opts.tailLines !== undefined && opts.tailLines >= 0) lines = opts.tailLines === 0 ? [] : lines.slice(-opts.tailLines);
  const initial = lines.map(fmt).join("");
  if (!opts.follow) {
    res.writeHead(200, { "Content-Type": "text/plain", ...headers, "Content-Length": Buffer.byteLength(initial) });
    res.end(initial);
    return;
  }
  res.writeHead(200, { "Content-Type": "text/plain", ...headers, "Transfer-Encoding": "chunked" });
  res.write(initial);
  const app = (pod.metadata.labels?.app as string | undefined) ?? pod.metadata.name;
  let i = 20;
  const timer = setInterval(() => {
    const at = Date.now();
    res.write(fmt({ at, text: lineFor(app, i++, at) }));
  }, opts.intervalMs ?? 200);
  let untrack = (): void => {};
  const stop = (): void => {
    clearInterval(timer);
    untrack();
    if (!res.writableEnded) res.end();
  };
  untrack = opts.track(stop);
  res.on("close", stop);
}

// `--log-format json`: one structured line per connection event (connection opened, failed with
// code and phase, TLS failure with the certificate's subject and expiry, retry seen, fault injected),
// to stderr or --log-file, for people who feed logs to their own tools.
import { createWriteStream, type WriteStream } from "node:fs";
import type { Exchange } from "../types.js";

export interface LogTarget {
  write(line: string): void;
}

const CONNECT_PHASES = new Set(["dns", "connect", "tls"]);
const MAX_TRACKED = 10_000;

function base(event: string, ex: Exchange): Record<string, unknown> {
  return { time: new Date().toISOString(), event, context: ex.context, server: ex.clusterUrl };
}

function failed(ex: Exchange): boolean {
  return !ex.response || ex.response.status >= 500 || ex.response.status === 429 || !!ex.error;
}

export class ConnectionLog {
  /** last failed attempt per client and request, to see the retry that follows */
  private readonly lastFailure = new Map<string, { at: number; attempt: number }>();
  private readonly file: WriteStream | null;
  private readonly target: LogTarget;

  constructor(opts: { file?: string; stderr?: LogTarget } = {}) {
    this.file = opts.file ? createWriteStream(opts.file, { flags: "a", mode: 0o600 }) : null;
    this.target = this.file ? { write: (l) => this.file!.write(l) } : (opts.stderr ?? { write: (l) => process.stderr.write(l) });
  }

  private emit(record: Record<string, unknown>): void {
    this.target.write(`${JSON.stringify(record)}\n`);
  }

  faultInjected(ex: Exchange, rule: string, action: string): void {
    this.emit({ ...base("fault_injected", ex), rule, action, method: ex.request.method, path: ex.request.path, verb: ex.info.verb, resource: ex.info.resource, client: ex.client.userAgent });
  }

  observe(ex: Exchange): void {
    const { timing, error } = ex;
    if (error && error.phase && CONNECT_PHASES.has(error.phase) && !ex.injected) {
      const leaf = ex.tls?.chain[0];
      if (error.phase === "tls") {
        this.emit({ ...base("tls_failed", ex), code: error.code, message: error.message, subject: leaf?.subject ?? null, notAfter: leaf?.notAfter ?? null });
      } else {
        this.emit({ ...base("connection_failed", ex), code: error.code, phase: error.phase, message: error.message });
      }
    } else if (!timing.reusedConnection && (timing.connectMs > 0 || timing.tlsMs > 0) && !ex.injected) {
      this.emit({ ...base("connection_opened", ex), protocol: ex.tls?.alpn || "http/1.1", tlsVersion: ex.tls?.protocol ?? null, dnsMs: timing.dnsMs, connectMs: timing.connectMs, tlsMs: timing.tlsMs });
    }
    if (error && error.phase === "headers" && error.code !== "CLIENT_ABORTED" && !ex.injected) {
      this.emit({ ...base("connection_failed", ex), code: error.code, phase: error.phase, message: error.message });
    }
    const key = `${ex.client.userAgent}\u0000${ex.request.method}\u0000${ex.request.path}\u0000${ex.request.query}`;
    const prior = this.lastFailure.get(key);
    if (prior) {
      this.emit({ ...base("retry_seen", ex), client: ex.client.userAgent, method: ex.request.method, path: ex.request.path, attempt: prior.attempt + 1, gapMs: ex.startedAt - prior.at, status: ex.response?.status ?? null });
    }
    if (failed(ex)) {
      if (this.lastFailure.size >= MAX_TRACKED) this.lastFailure.delete(this.lastFailure.keys().next().value!);
      this.lastFailure.set(key, { at: ex.startedAt, attempt: (prior?.attempt ?? 0) + 1 });
    } else if (prior) this.lastFailure.delete(key);
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.file ? this.file.end(() => resolve()) : resolve()));
  }
}

// Sends the doctor's API requests (steps 5-7) through the recording proxy, using the CA and
// token of the kubeconfig it generated, so each one is recorded as an ordinary exchange; reads the answers.
import https from "node:https";
import { adviceFor } from "../../proxy/failure-message.js";
import type { CheckResult } from "../../types.js";
import { hostOf } from "../../url.js";
import type { RecordingSession } from "../../session/recording-session.js";
import { fail, warn } from "./check.js";

export interface ProxyAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
  /** set when kubewire itself answered (it could not reach the API server): the error code */
  proxyError?: string;
}

export class ProxyClient {
  private readonly agent: https.Agent;
  private readonly server: URL;
  private readonly token: string;

  constructor(target: RecordingSession["client"], private readonly timeoutMs: number) {
    this.server = target.url;
    this.token = target.token;
    this.agent = new https.Agent({ keepAlive: true, ca: target.caPem });
  }

  request(method: string, path: string, body?: unknown): Promise<ProxyAnswer> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          method,
          host: hostOf(this.server),
          port: this.server.port,
          path,
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: "application/json, */*",
            "user-agent": "kubewire-doctor",
            ...(data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let json: any = null;
            try {
              json = JSON.parse(text);
            } catch {
              /* not JSON: health endpoints answer text */
            }
            const pe = res.headers["x-kubewire-error"];
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, proxyError: typeof pe === "string" ? pe : undefined });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer from ${path} within ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(data);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The kubewire explanation in a 502 (without the "kubewire: " prefix), or the body's first line. */
export function answerText(a: ProxyAnswer): string {
  if (a.json && typeof a.json.message === "string") return a.json.message.replace(/^kubewire: /, ""); // kubewire's own Status too
  return a.text.split("\n")[0].replace(/^kubewire: /, "").slice(0, 400);
}

/** A problem common to every answer: kubewire could not reach the server, or the credentials were refused. */
export function answerProblem(name: string, a: ProxyAnswer): CheckResult | undefined {
  if (a.proxyError) return fail(name, `kubewire could not reach the API server: ${answerText(a)}`, adviceFor(a.proxyError) ?? "see the earlier steps");
  if (a.status === 401) return warn(name, "401 Unauthorized: the server rejected the credentials before answering (see step 6)", "fix the credentials (step 6)");
  return undefined;
}

// Runs a kubeconfig user's exec credential plugin as client-go does (KUBERNETES_EXEC_INFO with the
// cluster when provideClusterInfo, interactiveMode, credentials kept until expirationTimestamp) and
// backs off after a failure. The plugin's output and argv never leave this file: errors name the command and exit code.
import { spawn } from "node:child_process";
import { basename } from "node:path";
import { UserError } from "../errors.js";

/** What the plugin returned: a token and/or a client certificate, with when it expires. */
export interface ExecCredential {
  token?: string;
  certPem?: string;
  keyPem?: string;
  /** epoch ms; undefined: valid until the API server says otherwise (401) */
  expiresAt?: number;
}

/** The cluster as ExecCredential.spec.cluster carries it (client.authentication.k8s.io v1 and v1beta1). */
export interface ExecClusterInfo {
  server: string;
  "tls-server-name"?: string;
  "insecure-skip-tls-verify"?: boolean;
  /** base64, as Go's []byte marshals */
  "certificate-authority-data"?: string;
  "proxy-url"?: string;
  "disable-compression"?: boolean;
  config?: unknown;
}

const SECRET_FLAG = /secret|token|password|passwd|key|credential/i;

/**
 * A plugin command line safe to print: the values after `=` and the value that follows a flag
 * whose name looks secret (secret, token, password, key) are masked. The one masking function.
 */
export function maskArgv(argv: string[]): string {
  const out: string[] = [];
  let maskNext = false;
  for (const arg of argv) {
    if (maskNext && !arg.startsWith("-")) {
      out.push("***");
      maskNext = false;
      continue;
    }
    maskNext = false;
    const eq = arg.indexOf("=");
    if (eq > 0) out.push(`${arg.slice(0, eq)}=***`);
    else {
      out.push(arg);
      if (arg.startsWith("-") && SECRET_FLAG.test(arg)) maskNext = true;
    }
  }
  return out.join(" ");
}

/** Backoff after a failed run, as doubling delays: 5 s, 10 s, 20 s, then 30 s: one kubectl command (with its discovery retries) runs a failing plugin once. */
const BACKOFF_FIRST_MS = 5000;
const BACKOFF_MAX_MS = 30_000;

export interface ExecPluginOptions {
  /** the kubeconfig user's `exec` stanza */
  exec: Record<string, any>;
  userName: string;
  cluster: ExecClusterInfo;
  env?: NodeJS.ProcessEnv;
  /** stdin is a terminal (kubectl's interactive test); defaults to process.stdin.isTTY */
  stdinIsTerminal?: boolean;
}

/** One plugin per kubeconfig user: caches what it returned and remembers a failure for the backoff window. */
export class ExecPlugin {
  /** how many times the plugin ran (for tests and status) */
  runs = 0;
  private credential: ExecCredential | null = null;
  private pending: Promise<ExecCredential> | null = null;
  private failure: { error: UserError; until: number; delay: number } | null = null;
  readonly command: string;

  constructor(private readonly o: ExecPluginOptions) {
    this.command = String(o.exec.command ?? "");
  }

  /** The cached credential while it is fresh. */
  cached(): ExecCredential | null {
    const c = this.credential;
    if (!c) return null;
    if (c.expiresAt !== undefined && Date.now() > c.expiresAt) return null; // client-go's credsExpired
    return c;
  }

  /** The credential: cached, else the plugin's answer; during a backoff window, the last failure. */
  get(): Promise<ExecCredential> {
    const c = this.cached();
    if (c) return Promise.resolve(c);
    if (this.failure && Date.now() < this.failure.until) return Promise.reject(this.failure.error);
    this.pending ??= this.run().then(
      (cred) => {
        this.pending = null;
        this.failure = null;
        this.credential = cred;
        return cred;
      },
      (err: UserError) => {
        this.pending = null;
        const delay = this.failure ? Math.min(this.failure.delay * 2, BACKOFF_MAX_MS) : BACKOFF_FIRST_MS;
        this.failure = { error: err, until: Date.now() + delay, delay };
        throw err;
      },
    );
    return this.pending;
  }

  /** After a 401: the next request asks the plugin again (client-go refreshes the same way). */
  invalidate(): void {
    this.credential = null;
  }

  private describe(): string {
    return `exec plugin "${basename(this.command)}" of user "${this.o.userName}"`;
  }

  private run(): Promise<ExecCredential> {
    const { exec } = this.o;
    const apiVersion = String(exec.apiVersion ?? "");
    const mode = String(exec.interactiveMode ?? (apiVersion.endsWith("/v1") ? "" : "IfAvailable"));
    const terminal = this.o.stdinIsTerminal ?? !!process.stdin.isTTY;
    if (mode === "Always" && !terminal) {
      return Promise.reject(new UserError(`${this.describe()} needs an interactive terminal (interactiveMode: Always), and standard input is not a terminal`));
    }
    const interactive = mode !== "Never" && terminal;
    const spec: Record<string, unknown> = { interactive };
    if (exec.provideClusterInfo) spec.cluster = this.o.cluster;
    const info = { apiVersion, kind: "ExecCredential", spec };
    const env: NodeJS.ProcessEnv = { ...(this.o.env ?? process.env) };
    for (const e of Array.isArray(exec.env) ? exec.env : []) if (e && typeof e.name === "string") env[e.name] = String(e.value ?? "");
    env.KUBERNETES_EXEC_INFO = JSON.stringify(info);
    const args: string[] = Array.isArray(exec.args) ? exec.args.map(String) : [];
    this.runs++;
    return new Promise<ExecCredential>((resolve, reject) => {
      // Interactive plugins talk to the user on the terminal, as under kubectl; otherwise nothing they print is shown.
      const child = spawn(this.command, args, { env, stdio: [interactive ? "inherit" : "ignore", "pipe", interactive ? "inherit" : "ignore"] });
      const chunks: Buffer[] = [];
      child.stdout!.on("data", (c: Buffer) => chunks.push(c));
      child.once("error", (err: NodeJS.ErrnoException) => {
        const hint = typeof exec.installHint === "string" && exec.installHint ? `\n${exec.installHint}` : "";
        reject(new UserError(err.code === "ENOENT" ? `${this.describe()}: command not found${hint}` : `${this.describe()} could not start (${err.code ?? "error"})`));
      });
      child.once("close", (code, signal) => {
        if (code !== 0) return reject(new UserError(`${this.describe()} failed: ${signal ? `killed by ${signal}` : `exit code ${code}`}`));
        try {
          resolve(parseCredential(Buffer.concat(chunks).toString("utf8"), apiVersion));
        } catch (err) {
          reject(new UserError(`${this.describe()} exited with code 0 but ${(err as Error).message}`));
        }
      });
    });
  }
}

/** The ExecCredential the plugin printed; errors say what is wrong, never what was printed. */
function parseCredential(text: string, apiVersion: string): ExecCredential {
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error("its output is not a JSON ExecCredential");
  }
  if (!doc || typeof doc !== "object" || doc.kind !== "ExecCredential") throw new Error("its output is not an ExecCredential");
  if (apiVersion && doc.apiVersion !== apiVersion) throw new Error(`it returned apiVersion ${JSON.stringify(String(doc.apiVersion ?? "")).slice(0, 80)}, the kubeconfig asks for ${apiVersion}`);
  const s = doc.status;
  if (!s || typeof s !== "object") throw new Error("its ExecCredential has no status");
  const cert = typeof s.clientCertificateData === "string" && s.clientCertificateData ? s.clientCertificateData : undefined;
  const key = typeof s.clientKeyData === "string" && s.clientKeyData ? s.clientKeyData : undefined;
  if ((cert && !key) || (key && !cert)) throw new Error("it returned only one of clientCertificateData and clientKeyData");
  const token = typeof s.token === "string" && s.token ? s.token : undefined;
  if (!token && !cert) throw new Error("it returned neither a token nor a client certificate and key");
  let expiresAt: number | undefined;
  if (typeof s.expirationTimestamp === "string" && s.expirationTimestamp) {
    expiresAt = Date.parse(s.expirationTimestamp);
    if (Number.isNaN(expiresAt)) throw new Error("its expirationTimestamp is not a time");
  }
  return { token, certPem: cert, keyPem: key, expiresAt };
}

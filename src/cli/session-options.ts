// The options shared by every command that runs the proxy (start, exec): the whole kubeconfig,
// one listener per cluster entry. Their defaults and what they become: session-defaults.ts.
import { Command, Option } from "commander";
import { parseDuration, parseListen, parseSize } from "./durations.js";
import { dbOption } from "./db-option.js";
import { SESSION_DEFAULTS as D } from "./session-defaults.js";

/** A default duration as help shows it. */
const seconds = (ms: number) => `${ms / 1000}s`;

/** defaultListen null: the chosen context's cluster listens on its stable port (see kubeconfig/stable-port.ts), as every other cluster does. */
export function addSessionOptions(cmd: Command, defaultListen: string | null = "127.0.0.1:8443"): Command {
  const listen = new Option("--listen <host:port>", "address of the chosen context's cluster listener (port 0 picks a free one; the other clusters listen on the same host)").argParser(parseListen);
  if (defaultListen) listen.default(parseListen(defaultListen), defaultListen);
  else listen.default(undefined, "127.0.0.1 and a stable port per cluster");
  return cmd
    .option("--kubeconfig <path>", "kubeconfig to read (default: $KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", "kubeconfig context to use (default: current-context)")
    .addOption(listen)
    .option("--allow-remote", "allow --listen on a non-loopback address")
    .addOption(dbOption("where to record: a SQLite file or a postgres:// URL (default: $KUBEWIRE_DB, else STATE_DIR/kubewire.db)"))
    .option("--state-dir <path>", "where the local CA and generated kubeconfig live (default: $KUBEWIRE_HOME, else ~/.kubewire)")
    .option("--write-kubeconfig <path>", "where to write the client kubeconfig (default: STATE_DIR/kubeconfig)")
    .addOption(new Option("--capture-limit <size>", "bytes of each body to keep").default(D.captureLimit).argParser(parseSize))
    .addOption(new Option("--connect-timeout <duration>", "upstream TCP/TLS connect timeout").default(D.connectTimeout, seconds(D.connectTimeout)).argParser(parseDuration))
    .addOption(new Option("--header-timeout <duration>", "upstream response-header timeout (not for watches)").default(D.headerTimeout, seconds(D.headerTimeout)).argParser(parseDuration))
    .addOption(new Option("--keepalive-idle <duration>", "PING an upstream HTTP/2 connection after this long with nothing read (client-go's read-idle); TCP keepalive idle on HTTP/1.1").default(D.keepaliveIdle, seconds(D.keepaliveIdle)).argParser(parseDuration))
    .addOption(new Option("--keepalive-timeout <duration>", "drop an upstream HTTP/2 connection whose PING is not answered within this, ending its streams (client-go's ping timeout)").default(D.keepaliveTimeout, seconds(D.keepaliveTimeout)).argParser(parseDuration))
    .addOption(new Option("--handshake-timeout <duration>", "a client's TLS handshake with kubewire must finish within this").default(D.handshakeTimeout, seconds(D.handshakeTimeout)).argParser(parseDuration))
    // fault: fault injection, metrics and JSON logs (src/control/extras.ts)
    .addOption(new Option("--fault <rule>", "inject a fault (repeatable): match and action fields as key=value, e.g. verb=list,resource=pods,status=429,retryAfter=1,times=3").argParser((v: string, prev: string[] = []) => [...prev, v]))
    .option("--faults <file>", "inject the faults of a rules file (faults: [{name, match, action, times, after, probability, until}])")
    .addOption(new Option("--metrics <host:port>", "serve Prometheus metrics at http://HOST:PORT/metrics (loopback unless --allow-remote)").argParser(parseListen))
    .addOption(new Option("--log-format <format>", "text (default): no connection log; json: one line per connection event (opened, failed, TLS failure, retry seen, fault injected)").choices(["text", "json"]).default(D.logFormat))
    .option("--log-file <path>", "write the --log-format json lines here instead of stderr");
}

// ui: `--ui` on start and exec: serve the live web view beside the proxy
export function addUiOption(cmd: Command): Command {
  return cmd.option("--ui", "also serve the live web view of the recording (prints its URL)");
}


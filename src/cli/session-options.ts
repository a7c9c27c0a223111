// The options shared by every command that runs the proxy (start, exec, demo).
import { Command, Option } from "commander";
import { parseDuration, parseListen, parseSize } from "./durations.js";
import type { SessionOptions } from "./recording-session.js";

export function addSessionOptions(cmd: Command, defaultListen = "127.0.0.1:8443"): Command {
  return cmd
    .option("--kubeconfig <path>", "kubeconfig to read (default: $KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", "kubeconfig context to use (default: current-context)")
    .addOption(new Option("--listen <host:port>", "address to listen on (port 0 picks a free one)").default(parseListen(defaultListen), defaultListen).argParser(parseListen))
    .option("--allow-remote", "allow --listen on a non-loopback address")
    .option("--db <path>", "SQLite database to record into (default: $KUBEWIRE_DB, else STATE_DIR/kubewire.db)")
    .option("--state-dir <path>", "where the local CA and generated kubeconfig live (default: $KUBEWIRE_HOME, else ~/.kubewire)")
    .option("--write-kubeconfig <path>", "where to write the client kubeconfig (default: STATE_DIR/kubeconfig)")
    .addOption(new Option("--capture-limit <size>", "bytes of each body to keep").default(65536).argParser(parseSize))
    .addOption(new Option("--connect-timeout <duration>", "upstream TCP/TLS connect timeout").default(10_000, "10s").argParser(parseDuration))
    .addOption(new Option("--header-timeout <duration>", "upstream response-header timeout (not for watches)").default(60_000, "60s").argParser(parseDuration));
}

// ui: `--ui` on start and exec: serve the live web view beside the proxy
export function addUiOption(cmd: Command): Command {
  return cmd.option("--ui", "also serve the live web view of the recording (prints its URL)");
}

export function sessionOptionsFrom(o: Record<string, any>, warn: (l: string) => void): SessionOptions {
  return {
    kubeconfig: o.kubeconfig,
    context: o.context,
    listen: o.listen,
    allowRemote: !!o.allowRemote,
    db: o.db,
    stateDir: o.stateDir,
    writeKubeconfig: o.writeKubeconfig,
    captureLimit: o.captureLimit,
    connectTimeoutMs: o.connectTimeout,
    headersTimeoutMs: o.headerTimeout,
    warn,
  };
}

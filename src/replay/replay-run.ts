// One replay run: starts a recording session (origin "replay") in front of the chosen context,
// sends every planned request through it, then reads the recorded replays back and compares.
import { startSession } from "../cli/recording-session.js";
import { Store } from "../store/store.js";
import type { Exchange } from "../types.js";
import { compare, type Comparison } from "./compare.js";
import type { SendPlan } from "./safety-policy.js";
import { inParallel, makeAgent, sendReplay, type SendResult } from "./send.js";

export interface Planned {
  original: Exchange;
  /** flag kinds the store holds for the original */
  flags: string[];
  plan: SendPlan;
}

export interface ReplayRunOptions {
  kubeconfig?: string;
  context?: string;
  db?: string;
  stateDir?: string;
  concurrency: number;
  watchSeconds: number;
  timeoutMs: number;
  warn: (line: string) => void;
}

export interface ReplayRun {
  context: string;
  user: string;
  server: string;
  comparisons: Comparison[];
}

export async function runReplays(items: Planned[], o: ReplayRunOptions): Promise<ReplayRun> {
  const session = await startSession({
    kubeconfig: o.kubeconfig,
    context: o.context,
    listen: { host: "127.0.0.1", port: 0 },
    db: o.db,
    stateDir: o.stateDir,
    ephemeralKubeconfig: true,
    origin: "replay",
    warn: o.warn,
  });
  const startedAt = Date.now();
  let sent: SendResult[];
  try {
    const target = session.client;
    const agent = makeAgent(target, o.concurrency);
    try {
      sent = await inParallel(items, o.concurrency, (it) =>
        sendReplay(it.plan, it.original.id!, { target, agent, watchSeconds: o.watchSeconds, timeoutMs: o.timeoutMs }),
      );
    } finally {
      agent.destroy();
    }
  } finally {
    const stats = await session.stop(1000);
    if (stats.dropped > 0) o.warn(`kubewire: ${stats.dropped} replay record${stats.dropped === 1 ? " was" : "s were"} DROPPED`);
  }
  const store = Store.open(session.dbPath, { readonly: true });
  try {
    const wanted = new Set(items.map((it) => it.original.id!));
    const latest = new Map<number, { id: number; flags: string[] }>();
    for (const row of store.list({ origin: "replay", since: startedAt - 1000 })) {
      if (row.replayOf !== null && wanted.has(row.replayOf)) latest.set(row.replayOf, { id: row.id, flags: row.flags });
    }
    const comparisons = items.map((it, i) => {
      const rec = latest.get(it.original.id!);
      const after = rec ? store.get(rec.id) : null;
      return compare(it.original, it.flags, after, rec?.flags ?? [], sent[i]);
    });
    return { context: session.upstream.contextName, user: session.upstream.userName, server: session.upstream.server.origin, comparisons };
  } finally {
    store.close();
  }
}

// One replay run: for each target context, a recording session (origin "replay") in front of it;
// every distinct request is sent once through its context's session, then the recorded replays
// are read back and compared with the exchanges they stand for.
import { startSession } from "../session/recording-session.js";
import { Store } from "../store/store.js";
import { compare, type Comparison } from "./compare.js";
import { inParallel, makeAgent, sendReplay, type SendResult } from "./send.js";
import type { DistinctRequest } from "./targets.js";

export interface ReplayRunOptions {
  kubeconfig?: string;
  db?: string;
  stateDir?: string;
  concurrency: number;
  watchSeconds: number;
  timeoutMs: number;
  warn: (line: string) => void;
}

/** "now succeeds" only when the answer came from the server the request was recorded against. */
export type Verdict = "now succeeds" | "still fails" | "answered by another server";

export interface ReplayTargetInfo {
  context: string;
  user: string;
  server: string;
  recordedContext: string;
  recordedServer: string;
  sameServer: boolean;
}

export interface ReplayResult extends Comparison {
  /** every recorded exchange this one send stands for, oldest first (id is the first) */
  ids: number[];
  target: ReplayTargetInfo;
  verdict: Verdict;
}

export interface SessionInfo {
  context: string;
  user: string;
  server: string;
}

export interface ReplayRun {
  /** one per target context, in the order they ran */
  sessions: SessionInfo[];
  /** in the order of the distinct requests given */
  results: ReplayResult[];
}

export async function runReplays(items: DistinctRequest[], o: ReplayRunOptions): Promise<ReplayRun> {
  const byContext = new Map<string, number[]>();
  items.forEach((it, i) => byContext.set(it.target.context, [...(byContext.get(it.target.context) ?? []), i]));
  const sent: SendResult[] = new Array(items.length);
  const sessions: SessionInfo[] = [];
  let dbPath = "";
  const startedAt = Date.now();
  for (const [context, indexes] of byContext) {
    const session = await startSession({
      kubeconfig: o.kubeconfig,
      context,
      listen: { host: "127.0.0.1", port: 0 },
      db: o.db,
      stateDir: o.stateDir,
      ephemeralKubeconfig: true,
      origin: "replay",
      warn: o.warn,
    });
    dbPath = session.dbPath;
    sessions.push({ context: session.upstream.contextName, user: session.upstream.userName, server: session.upstream.server.origin });
    try {
      const target = session.client;
      const agent = makeAgent(target, o.concurrency);
      try {
        const results = await inParallel(indexes, o.concurrency, (i) =>
          sendReplay(items[i].plan, items[i].originals[0].id!, { target, agent, watchSeconds: o.watchSeconds, timeoutMs: o.timeoutMs }),
        );
        indexes.forEach((i, k) => (sent[i] = results[k]));
      } finally {
        agent.destroy();
      }
    } finally {
      const stats = await session.stop(1000);
      if (stats.dropped > 0) o.warn(`kubewire: ${stats.dropped} replay record${stats.dropped === 1 ? " was" : "s were"} DROPPED`);
    }
  }
  const store = Store.open(dbPath, { readonly: true });
  try {
    const wanted = new Set(items.map((it) => it.originals[0].id!));
    const latest = new Map<number, { id: number; flags: string[] }>();
    for (const row of store.list({ origin: "replay", since: startedAt - 1000 })) {
      if (row.replayOf !== null && wanted.has(row.replayOf)) latest.set(row.replayOf, { id: row.id, flags: row.flags });
    }
    const results = items.map((it, i): ReplayResult => {
      const original = it.originals[0];
      const rec = latest.get(original.id!);
      const after = rec ? store.get(rec.id) : null;
      const c = compare(original, it.flags, after, rec?.flags ?? [], sent[i]);
      const session = sessions.find((s) => s.context === it.target.context)!;
      const verdict: Verdict = !it.sameServer ? "answered by another server" : c.succeeds ? "now succeeds" : "still fails";
      return {
        ...c,
        ids: it.originals.map((x) => x.id!),
        target: { ...session, recordedContext: original.context, recordedServer: original.clusterUrl, sameServer: it.sameServer },
        verdict,
      };
    });
    return { sessions, results };
  } finally {
    store.close();
  }
}

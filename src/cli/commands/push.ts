// `kubewire push --db local.db --to postgres://…`: uploads a local recording into a shared store (flags kept,
// replays pointing at their pushed originals). Idempotent: each recording carries an id, and the store keeps
// which of its exchanges it holds, so pushing twice (or after more was recorded) adds only what is new.
import { randomUUID } from "node:crypto";
import { Command, Option } from "commander";
import { plural } from "../../analyze/lib/util.js";
import { UserError } from "../../errors.js";
import { parseDbSpec } from "../../store/db-spec.js";
import { Store } from "../../store/store.js";
import { stateDirPath } from "../../tls/state-dir.js";
import type { Exchange } from "../../types.js";
import { defaultDbPath } from "../../session/db-path.js";
import { addDbOption } from "../db-option.js";
import { actionOf, type CommandSteps } from "../command-shape.js";

/** meta key of a recording's own id, which push records beside each exchange it uploads */
export const RECORDING_ID_KEY = "recording.id";
const CHUNK = 1000;

export function makePushCommand(): Command {
  const cmd = new Command("push")
    .description("Upload a local recording into a shared store (pushing twice adds nothing)")
    .addOption(new Option("--to <url>", "the store to upload into: a postgres:// URL (or another SQLite file)").makeOptionMandatory().argParser((v: string) => {
      parseDbSpec(v, "--to");
      return v;
    }))
    .addHelpText(
      "after",
      `
Examples:
  kubewire push --db ./incident.db --to postgres://kw@db.internal:5432/kubewire
  PGPASSWORD=... kubewire push --to postgresql://kw@127.0.0.1/kubewire   # the default recording
  kubewire ls --db postgres://kw@db.internal:5432/kubewire --status 403`,
    );
  addDbOption(cmd).action(actionOf(pushSteps));
  return cmd;
}

export interface PushOptions {
  /** the local recording pushed */
  from: string;
  /** the store pushed into: a postgres:// URL (password masked) or a file path */
  to: string;
}

export const pushSteps: CommandSteps<PushOptions> = {
  complete({ opts }) {
    const from = defaultDbPath(stateDirPath(opts.stateDir), opts.db);
    const to = parseDbSpec(String(opts.to), "--to");
    return { from, to: to.kind === "postgres" ? to.url : defaultDbPath(stateDirPath(opts.stateDir), to.path) };
  },
  validate(o) {
    if (o.to === o.from) throw new UserError(`--to names the recording being pushed (${o.from})`);
  },
  run(o, { out }) {
    const result = push(o.from, o.to);
    const range = result.ids.length ? ` as IDs ${Math.min(...result.ids)}-${Math.max(...result.ids)}` : "";
    const before = result.before ? `; ${plural(result.before, "exchange was", "exchanges were")} pushed before and ${result.before === 1 ? "is" : "are"} not added again` : "";
    out.write(`pushed ${plural(result.ids.length, "exchange")} from ${o.from} to ${result.to}${range}${before}\n`);
  },
};

/** Uploads what of the recording at from is not yet in the store at to; returns the new ids and how many were there already. */
export function push(from: string, to: string): { ids: number[]; before: number; to: string } {
  const local = Store.open(from, { create: false });
  try {
    let recording = local.meta(RECORDING_ID_KEY);
    if (!recording) {
      recording = randomUUID();
      local.setMeta(RECORDING_ID_KEY, recording);
    }
    const target = Store.open(to, { create: true });
    try {
      const ids: number[] = [];
      const remote = new Map<number, number>(); // local id → id in the target, for replay_of
      let before = 0;
      let chunk: Exchange[] = [];
      const flush = () => {
        const done = target.pushedIds(recording!, chunk.map((ex) => ex.id!));
        before += done.size;
        for (const [l, r] of done) remote.set(l, r);
        const fresh = chunk.filter((ex) => !done.has(ex.id!));
        chunk = [];
        if (fresh.length === 0) return;
        const flags = new Map(local.list({ ids: fresh.map((ex) => ex.id!) }).map((r) => [r.id, r.flags]));
        const localIds = fresh.map((ex) => ex.id!);
        const missing = fresh.map((ex) => ex.replayOf).filter((id): id is number => id !== null && id !== undefined && !remote.has(id));
        for (const [l, r] of target.pushedIds(recording!, missing)) remote.set(l, r);
        const copies = fresh.map((ex, i) => ({ ...ex, id: undefined, replayOf: ex.replayOf == null ? ex.replayOf : remote.get(ex.replayOf) ?? null, __local: localIds[i] }));
        target.transaction(() => {
          const got = target.insertMany(copies, (ex) => flags.get((ex as { __local?: number }).__local!) ?? []);
          target.markPushed(recording!, localIds.map((l, i) => [l, got[i]!]));
          got.forEach((r, i) => remote.set(localIds[i]!, r));
          ids.push(...got);
        });
      };
      for (const ex of local.iterate({})) {
        chunk.push(ex);
        if (chunk.length === CHUNK) flush();
      }
      flush();
      return { ids: [...new Set(ids)], before, to: target.path };
    } finally {
      target.close();
    }
  } finally {
    local.close();
  }
}

// The views across exchanges: flags (kind, count, evidence, fix, links), the timeline of retries,
// gaps and 429s per client and request, and latency/error-rate charts per verb and resource.
import { useEffect, useState } from "preact/hooks";
import { CopyButton } from "./detail.js";
import { clock, filterQuery, getJson, ms, statusClass, type Filter, type Row } from "./lib.js";

interface FlagKind { kind: string; count: number; first: number; last: number; ids: number[]; severity: string; help: string; message: string; advice: string[] }

export function FlagsView({ filter, onOpen, onFilterFlag, tick }: { filter: Filter; onOpen: (id: number) => void; onFilterFlag: (kind: string) => void; tick: number }) {
  const [flags, setFlags] = useState<FlagKind[] | null>(null);
  const [err, setErr] = useState("");
  useEffect(() => {
    getJson<{ flags: FlagKind[] }>(`/api/flags?${filterQuery(filter)}`).then((r) => setFlags(r.flags), (e) => setErr(e.message));
  }, [filterQuery(filter), tick]);
  if (err) return <p class="error">{err}</p>;
  if (!flags) return <p class="muted">loading…</p>;
  if (!flags.length) return <p class="muted pad">No flags among these exchanges.</p>;
  return (
    <div class="flagsview pad" data-testid="flags-view">
      {flags.map((f) => (
        <div class={`flagcard sev-${f.severity}`} data-testid={`flagkind-${f.kind}`}>
          <h3><span class="kind">{f.kind}</span> <span class="count">{f.count}×</span> <span class="muted">{f.severity} · {f.help}</span></h3>
          <p class="muted small">{new Date(f.first).toISOString()} → {new Date(f.last).toISOString()}</p>
          {f.message ? <p><b>Evidence</b> (#{f.ids[0]}): {f.message}</p> : null}
          {f.advice.length ? <div class="fix"><pre>{f.advice.join("\n")}</pre><CopyButton text={f.advice.join("\n")} label="Copy fix" /></div> : null}
          <p class="ids">
            Exchanges: {f.ids.map((id) => <a href="#" onClick={(e) => { e.preventDefault(); onOpen(id); }}>#{id}</a>)}
            {f.count > f.ids.length ? <span class="muted"> and {f.count - f.ids.length} more</span> : null}{" "}
            <button onClick={() => onFilterFlag(f.kind)}>List all</button>
          </p>
        </div>
      ))}
    </div>
  );
}

/** One lane per client (user agent and context); a line joins the attempts of the same request. */
export function TimelineView({ filter, onOpen, tick }: { filter: Filter; onOpen: (id: number) => void; tick: number }) {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [retryAfter, setRetryAfter] = useState<Record<number, string>>({});
  useEffect(() => {
    getJson<{ items: Row[]; retryAfter: Record<number, string> }>(`/api/timeline?${filterQuery(filter, { limit: 2000 })}`).then((r) => {
      setRows(r.items.reverse());
      setRetryAfter(r.retryAfter);
    });
  }, [filterQuery(filter), tick]);
  if (!rows) return <p class="muted pad">loading…</p>;
  if (!rows.length) return <p class="muted pad">No exchanges.</p>;
  const t0 = Date.parse(rows[0].time);
  const t1 = Math.max(t0 + 1, ...rows.map((r) => Date.parse(r.time) + r.durationMs));
  const W = 1000;
  const x = (t: number) => 230 + ((t - t0) / (t1 - t0)) * (W - 250);
  const lanes = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.userAgent.split(" ")[0] || "unknown client"} · ${r.context}`;
    lanes.set(key, [...(lanes.get(key) ?? []), r]);
  }
  const LANE = 46;
  return (
    <div class="pad" data-testid="timeline">
      <p class="muted">{rows.length} exchanges from {clock(t0)} to {clock(t1)} ({ms(t1 - t0)}). Arcs join repeats of a failing request, labelled with the gap (the client's backoff); 429s are orange, with their Retry-After as a bar below (red when the client came back sooner).</p>
      <svg class="timeline" viewBox={`0 0 ${W} ${lanes.size * LANE + 20}`} width="100%">
        {[...lanes.entries()].map(([lane, rs], li) => {
          const y = li * LANE + 24;
          const byRequest = new Map<string, Row[]>();
          for (const r of rs) {
            const k = `${r.method} ${r.path}?${r.query}`;
            byRequest.set(k, [...(byRequest.get(k) ?? []), r]);
          }
          const retries = [...byRequest.values()].filter((a) => a.length > 1 && a.some((r) => r.status === null || r.status >= 400 ));
          return (
            <g>
              <text x="4" y={y + 4} class="lane">{lane.length > 38 ? `${lane.slice(0, 37)}…` : lane}<title>{lane}</title></text>
              <line x1="230" x2={W - 20} y1={y} y2={y} class="axis" />
              {retries.map((a) =>
                a.slice(1).map((r, i) => {
                  const prev = a[i];
                  const xa = x(Date.parse(prev.time));
                  const xb = x(Date.parse(r.time));
                  const ra = prev.status === 429 ? retryAfter[prev.id] : undefined;
                  const raEnd = ra !== undefined && /^\d+$/.test(ra) ? x(Date.parse(prev.time) + prev.durationMs + Number(ra) * 1000) : null;
                  return (
                    <g>
                      {raEnd !== null ? <rect x={xa} y={y + 8} width={Math.max(1, raEnd - xa)} height="3" class={`ra${raEnd > xb + 1 ? " early" : ""}`}><title>Retry-After: {ra}s{raEnd > xb + 1 ? " (retried before it)" : ""}</title></rect> : null}
                      <path d={`M${xa},${y} Q${(xa + xb) / 2},${y - 18} ${xb},${y}`} class="retry" />
                      {xb - xa > 40 ? <text x={(xa + xb) / 2} y={y - 12} class="gap">{ms(Date.parse(r.time) - Date.parse(prev.time))}{ra !== undefined && xb - xa > 100 ? ` (Retry-After ${ra}s)` : ""}</text> : null}
                    </g>
                  );
                }),
              )}
              {rs.map((r) => (
                <rect x={x(Date.parse(r.time))} y={y - 6} width={Math.max(3, x(Date.parse(r.time) + r.durationMs) - x(Date.parse(r.time)))} height="12" rx="2"
                  class={`ev ${r.status === 429 ? "s429" : statusClass(r)}`} onClick={() => onOpen(r.id)}>
                  <title>#{r.id} {r.method} {r.path} → {r.status ?? r.error?.code ?? "no response"} ({ms(r.durationMs)})</title>
                </rect>
              ))}
            </g>
          );
        })}
      </svg>
    </div>
  );
}

interface Group { context: string; verb: string; group: string; resource: string; subresource: string; count: number; errors: number; percentiles: number[] }

/** p50/p90/p99 bars and the error rate per verb and resource, as SVG. */
export function StatsView({ filter, tick }: { filter: Filter; tick: number }) {
  const [groups, setGroups] = useState<Group[] | null>(null);
  useEffect(() => {
    getJson<{ groups: Group[] }>(`/api/stats?${filterQuery(filter)}`).then((r) => setGroups(r.groups.sort((a, b) => b.count - a.count)));
  }, [filterQuery(filter), tick]);
  if (!groups) return <p class="muted pad">loading…</p>;
  if (!groups.length) return <p class="muted pad">No exchanges.</p>;
  const max = Math.max(1, ...groups.map((g) => g.percentiles[2] ?? 0));
  const BAR = 300;
  return (
    <div class="pad" data-testid="stats">
      <table class="stats">
        <thead><tr><th>verb</th><th>resource</th><th>context</th><th>count</th><th>latency p50 / p90 / p99</th><th>errors</th></tr></thead>
        <tbody>
          {groups.map((g) => {
            const rate = g.errors / g.count;
            return (
              <tr>
                <td>{g.verb || "-"}</td>
                <td>{g.resource ? `${g.resource}${g.group ? `.${g.group}` : ""}${g.subresource ? `/${g.subresource}` : ""}` : `(discovery${g.group ? ` ${g.group}` : ""})`}</td>
                <td>{g.context}</td>
                <td class="num">{g.count}</td>
                <td>
                  <svg width={BAR + 150} height="30" class="lat">
                    {g.percentiles.map((p, i) => <rect x="0" y={i * 10} height="8" width={Math.max(1, (p / max) * BAR)} class={`p${i}`} />)}
                    <text x={BAR + 6} y="18">{g.percentiles.map(ms).join(" / ")}</text>
                  </svg>
                </td>
                <td>
                  <svg width="160" height="14" class="err">
                    <rect x="0" y="2" width="100" height="10" class="bg" />
                    <rect x="0" y="2" width={rate * 100} height="10" class="fg" />
                    <text x="106" y="11">{(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%</text>
                  </svg>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

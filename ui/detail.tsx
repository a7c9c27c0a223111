// The detail of one exchange: request info, flags with their fix, timing waterfall, upstream
// certificate chain, headers, bodies, the same request by hand, and replay with before/after.
import { useEffect, useState } from "preact/hooks";
import { bytes, copy, getJson, ms, postJson, statusClass } from "./lib.js";

type Headers = Record<string, string | string[]>;
interface Body { data: string; encoding: "utf8" | "base64"; truncated: boolean; size: number; contentEncoding?: string; sizeIsLowerBound?: boolean }
interface Cert { subject: string; issuer: string; san: string[]; notBefore: string; notAfter: string; serial: string; sha256: string }
interface Flag { kind: string; severity: string; message: string; advice: string[] }
export interface Detail {
  id: number;
  time: string;
  startedAt: number;
  origin: string;
  replayOf?: number | null;
  client: { address: string; userAgent: string };
  context: string;
  clusterUrl: string;
  kubeUser: string;
  request: { method: string; path: string; query: string; headers: Headers; body: Body | null; bytes: number; wireBytes?: number };
  info: { isResourceRequest: boolean; verb: string; apiGroup: string; apiVersion: string; namespace: string; resource: string; subresource: string; name: string };
  response: { status: number; headers: Headers; body: Body | null; bytes: number; wireBytes?: number } | null;
  /** what kubewire itself answered the client (with error; response is then null) */
  proxyAnswer?: { status: number; headers: Headers; body: Body };
  timing: { dnsMs: number; connectMs: number; tlsMs: number; ttfbMs: number; totalMs: number; reusedConnection: boolean };
  tls: { protocol: string | null; cipher: string | null; alpn: string | null; resumed: boolean; chain: Cert[] } | null;
  error: { code: string; message: string; phase?: string } | null;
  stream: { kind: string; events: number; endedBy: string; durationMs: number } | null;
  flags: Flag[];
  command: string;
  mutation: string | null;
  bodies: { request: string | null; response: string | null };
}

export function DetailView({ id, onClose, onOpen }: { id: number; onClose: () => void; onOpen: (id: number) => void }) {
  const [ex, setEx] = useState<Detail | null>(null);
  const [err, setErr] = useState("");
  useEffect(() => {
    setEx(null);
    setErr("");
    getJson<Detail>(`/api/exchanges/${id}`).then(setEx, (e) => setErr(String(e.message)));
  }, [id]);
  if (err) return <section class="detail"><p class="error">{err}</p></section>;
  if (!ex) return <section class="detail"><p class="muted">loading #{id}…</p></section>;
  const status = ex.response ? String(ex.response.status) : ex.proxyAnswer ? `kubewire answered ${ex.proxyAnswer.status}` : "no response";
  return (
    <section class="detail" data-testid="detail">
      <header class="detail-head">
        <button class="close" onClick={onClose} title="Close (Esc)">×</button>
        <h2>
          <span class="id">#{ex.id}</span> <span class={`badge ${statusClass({ status: ex.response?.status ?? null, error: ex.error })}`}>{status}</span>{" "}
          <span class="method">{ex.request.method || "(no request)"}</span> <span class="path">{ex.request.path}{ex.request.query ? `?${ex.request.query}` : ""}</span>
        </h2>
        <p class="muted">{ex.time} · context {ex.context} · user {ex.kubeUser || "-"} · {ex.origin}{ex.replayOf ? <> · replay of <a href="#" onClick={(e) => { e.preventDefault(); onOpen(ex.replayOf!); }}>#{ex.replayOf}</a></> : null}</p>
        {ex.error ? <p class="error" data-testid="exchange-error">{ex.error.code}{ex.error.phase ? ` (${ex.error.phase})` : ""}: {ex.error.message}</p> : null}
      </header>
      {ex.flags.length ? <Section title="Flags"><FlagList flags={ex.flags} /></Section> : null}
      <Section title="Kubernetes request"><Info ex={ex} /></Section>
      <Section title="Timing"><Waterfall ex={ex} /></Section>
      <Section title="Upstream certificate chain"><Chain ex={ex} /></Section>
      <Section title="Same request by hand">
        <div class="command"><code data-testid="command">{ex.command}</code> <CopyButton text={ex.command} label="Copy" /></div>
      </Section>
      <Section title="Replay"><Replay ex={ex} onOpen={onOpen} /></Section>
      <Section title="Request headers"><HeaderTable h={ex.request.headers} /></Section>
      <Section title={`Request body (${sizeText(ex.request.bytes, ex.request.body)})`}><BodyView body={ex.request.body} tree={ex.bodies.request} headers={ex.request.headers} /></Section>
      {ex.response ? (
        <>
          <Section title="Response headers"><HeaderTable h={ex.response.headers} /></Section>
          <Section title={`Response body (${sizeText(ex.response.bytes, ex.response.body)})`}><BodyView body={ex.response.body} tree={ex.bodies.response} headers={ex.response.headers} /></Section>
        </>
      ) : null}
      {ex.proxyAnswer ? (
        <div data-testid="proxy-answer">
          <Section title={`Answered by kubewire (${ex.proxyAnswer.status}, not from the API server)`}>
            <HeaderTable h={ex.proxyAnswer.headers} />
            <BodyView body={ex.proxyAnswer.body} tree={null} headers={ex.proxyAnswer.headers} />
          </Section>
        </div>
      ) : null}
    </section>
  );
}

function Section({ title, children }: { title: string; children: any }) {
  return <div class="section"><h3>{title}</h3>{children}</div>;
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<"" | "Copied" | "Copy failed">("");
  return (
    <button class="copy" onClick={async () => { setDone((await copy(text)) ? "Copied" : "Copy failed"); setTimeout(() => setDone(""), 2000); }}>
      {done || label}
    </button>
  );
}

export function FlagList({ flags }: { flags: Flag[] }) {
  return (
    <ul class="flags">
      {flags.map((f) => (
        <li class={`flag sev-${f.severity}`} data-testid={`flag-${f.kind}`}>
          <div><span class="kind">{f.kind}</span> <span class="muted">({f.severity})</span> {f.message}</div>
          {f.advice.length ? (
            <div class="fix">
              <pre>{f.advice.join("\n")}</pre>
              <CopyButton text={f.advice.join("\n")} label="Copy fix" />
            </div>
          ) : null}
        </li>
      ))}
    </ul>
  );
}

function Info({ ex }: { ex: Detail }) {
  const i = ex.info;
  const rows: [string, string][] = i.isResourceRequest
    ? [["verb", i.verb], ["resource", `${i.resource}${i.subresource ? `/${i.subresource}` : ""}`], ["group", i.apiGroup || '"" (core)'], ["version", i.apiVersion], ["namespace", i.namespace || "-"], ["name", i.name || "-"]]
    : [["request", `non-resource (${i.verb || "-"})`]];
  rows.push(["cluster", ex.clusterUrl], ["client", `${ex.client.address} ${ex.client.userAgent}`]);
  if (ex.stream) rows.push(["stream", `${ex.stream.kind}: ${ex.stream.events} events, ${ms(ex.stream.durationMs)}, ended by ${ex.stream.endedBy}`]);
  return <table class="kv"><tbody>{rows.map(([k, v]) => <tr><th>{k}</th><td>{v}</td></tr>)}</tbody></table>;
}

const PHASE_OF: Record<string, string> = { dns: "dns", connect: "connect", tls: "tls", headers: "wait", body: "receive" };

/** dns → connect → tls → wait → receive, drawn to scale; a failed exchange stops at its failing phase. */
function Waterfall({ ex }: { ex: Detail }) {
  const t = ex.timing;
  const total = Math.max(t.totalMs, 0.001);
  const phases: { name: string; from: number; len: number }[] = [];
  let at = 0;
  for (const [name, len] of [["dns", t.dnsMs], ["connect", t.connectMs], ["tls", t.tlsMs]] as [string, number][]) {
    phases.push({ name, from: at, len });
    at += len;
  }
  phases.push({ name: "wait", from: at, len: Math.max(0, t.ttfbMs - at) });
  phases.push({ name: "receive", from: t.ttfbMs, len: Math.max(0, t.totalMs - t.ttfbMs) });
  const failed = ex.error ? PHASE_OF[ex.error.phase ?? ""] ?? (ex.response ? null : "wait") : null;
  const cut = failed ? phases.findIndex((p) => p.name === failed) : -1;
  const shown = cut >= 0 ? phases.slice(0, cut + 1) : phases;
  return (
    <div class="waterfall" data-testid="waterfall">
      {shown.map((p, n) => {
        const isFail = n === cut;
        return (
          <div class={`phase${isFail ? " failed" : ""}`}>
            <span class="pname">{p.name}</span>
            <span class="track"><span class="bar" style={{ left: `${(p.from / total) * 100}%`, width: `${Math.max(0.5, (p.len / total) * 100)}%` }} /></span>
            <span class="pms">{ms(p.len)}{isFail ? " — failed here" : ""}</span>
          </div>
        );
      })}
      <div class="phase total"><span class="pname">total</span><span class="track" /><span class="pms">{ms(t.totalMs)}{t.reusedConnection ? " (reused connection)" : ""}</span></div>
    </div>
  );
}

function hostMatches(host: string, san: string): boolean {
  const name = san.replace(/^(DNS|IP Address|IP):/i, "").trim().toLowerCase();
  const h = host.toLowerCase();
  if (name === h) return true;
  return name.startsWith("*.") && h.endsWith(name.slice(1)) && h.split(".").length === name.split(".").length;
}

/** Each certificate with a validity bar against the time the exchange was recorded, and its SANs. */
function Chain({ ex }: { ex: Detail }) {
  if (!ex.tls || ex.tls.chain.length === 0) return <p class="muted">none recorded{ex.error ? ` (${ex.error.code})` : ""}</p>;
  const at = ex.startedAt;
  let host = "";
  try {
    host = new URL(ex.clusterUrl).hostname.replace(/^\[|\]$/g, "");
  } catch { /* no URL */ }
  const spans = ex.tls.chain.flatMap((c) => [Date.parse(c.notBefore), Date.parse(c.notAfter)]).concat(at);
  const lo = Math.min(...spans);
  const hi = Math.max(...spans);
  const x = (t: number) => `${((t - lo) / Math.max(1, hi - lo)) * 100}%`;
  return (
    <div class="chain" data-testid="chain">
      <p class="muted">{ex.tls.protocol ?? "?"} {ex.tls.cipher ?? ""} · ALPN {ex.tls.alpn || "-"}{ex.tls.resumed ? " · resumed" : ""}</p>
      {ex.tls.chain.map((c, n) => {
        const from = Date.parse(c.notBefore);
        const to = Date.parse(c.notAfter);
        const state = at > to ? "expired" : at < from ? "early" : "valid";
        const leafMismatch = n === 0 && host && c.san.length > 0 && !c.san.some((s) => hostMatches(host, s));
        return (
          <div class={`cert ${state}`} data-testid={`cert-${n}`}>
            <div><b>[{n}] {c.subject}</b></div>
            <div class="muted">issuer {c.issuer}</div>
            <div class="validity">
              <span class="vtrack">
                <span class={`vbar ${state}`} data-testid={`validity-${state}`} style={{ left: x(from), width: `calc(${x(to)} - ${x(from)})` }} />
                <span class="vnow" style={{ left: x(at) }} title="recorded at" />
              </span>
              <span class="vtext">{c.notBefore} → {c.notAfter} {state === "expired" ? <b class="bad">EXPIRED when recorded</b> : state === "early" ? <b class="bad">NOT YET VALID when recorded</b> : null}</span>
            </div>
            {c.san.length ? (
              <div class="sans">SANs: {c.san.map((s) => <span class={`san${n === 0 && hostMatches(host, s) ? " match" : ""}`}>{s}</span>)}</div>
            ) : null}
            {leafMismatch ? <div class="bad" data-testid="san-mismatch">requested host {host} is not among the SANs</div> : null}
            <div class="muted mono small">sha256 {c.sha256}</div>
          </div>
        );
      })}
    </div>
  );
}

function HeaderTable({ h }: { h: Headers }) {
  const entries = Object.entries(h);
  if (!entries.length) return <p class="muted">(none)</p>;
  return <table class="kv headers"><tbody>{entries.map(([k, v]) => <tr><th>{k}</th><td>{Array.isArray(v) ? v.join(", ") : v}</td></tr>)}</tbody></table>;
}

function header(h: Headers, name: string): string {
  const v = Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1];
  return (Array.isArray(v) ? v[0] : v) ?? "";
}

function sizeText(n: number, body: Body | null): string {
  return `${bytes(n)}${body?.sizeIsLowerBound ? " or more" : ""}${body?.contentEncoding ? `, decoded from ${body.contentEncoding}` : ""}`;
}

/** JSON pretty-printed, the protobuf field tree when there is one, other text as is; always as text. */
function BodyView({ body, tree, headers }: { body: Body | null; tree: string | null; headers: Headers }) {
  if (!body) return <p class="muted">(none)</p>;
  let text: string;
  let kind = "";
  if (tree !== null) {
    text = tree;
    kind = "protobuf field tree";
  } else if (body.encoding === "base64") {
    text = `(${bytes(body.size)} of binary data)`;
  } else {
    text = body.data;
    const ct = header(headers, "content-type");
    if (!body.truncated && /^\s*[[{]/.test(text)) {
      try {
        text = JSON.stringify(JSON.parse(text), null, 2);
        kind = "JSON";
      } catch { /* not JSON */ }
    } else if (/yaml/.test(ct)) kind = "YAML";
  }
  return (
    <div class="body">
      {kind ? <div class="muted small">{kind}{body.truncated ? " · truncated at capture" : ""}</div> : body.truncated ? <div class="muted small">truncated at capture</div> : null}
      <pre data-testid="body">{text}</pre>
    </div>
  );
}

interface Side { id: number | null; status: number | null; error: string | null; latencyMs: number | null; chain: string[]; flags: string[]; body: string }
interface ReplayAnswer { context: string; user: string; changes: string[]; comparison: { before: Side; after: Side; succeeds: boolean; bodyDiff: string; flagsGone: string[]; flagsAppeared: string[]; chainChanged: boolean | null } }

/** Replays this request through a fresh session with the CLI's rules; a mutation needs the confirmation box. */
function Replay({ ex, onOpen }: { ex: Detail; onOpen: (id: number) => void }) {
  const [context, setContext] = useState(ex.context);
  const [as, setAs] = useState("");
  const [groups, setGroups] = useState("");
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<ReplayAnswer | null>(null);
  const [err, setErr] = useState("");
  const send = async () => {
    setBusy(true);
    setErr("");
    setAnswer(null);
    const r = await postJson<ReplayAnswer>("/api/replay", { id: ex.id, context, as, groups: groups.split(",").map((g) => g.trim()).filter(Boolean), confirm });
    setBusy(false);
    if (r.ok) setAnswer(r.body);
    else setErr(r.body.error ?? "replay failed");
  };
  return (
    <div class="replay">
      <div class="replay-form">
        <label>context <input name="replay-context" value={context} onInput={(e) => setContext((e.target as HTMLInputElement).value)} /></label>
        <label>as user <input name="replay-as" placeholder="(recorded identity)" value={as} onInput={(e) => setAs((e.target as HTMLInputElement).value)} /></label>
        <label>as groups <input name="replay-groups" placeholder="g1, g2" value={groups} onInput={(e) => setGroups((e.target as HTMLInputElement).value)} /></label>
        {ex.mutation ? (
          <label class="confirm bad"><input type="checkbox" name="replay-confirm" checked={confirm} onChange={(e) => setConfirm((e.target as HTMLInputElement).checked)} /> {ex.mutation}: replay it anyway</label>
        ) : null}
        <button class="primary" disabled={busy || (!!ex.mutation && !confirm)} onClick={send}>{busy ? "Replaying…" : "Replay"}</button>
      </div>
      {err ? <p class="error" data-testid="replay-error">{err}</p> : null}
      {answer ? (
        <div data-testid="replay-result">
          <p class={answer.comparison.succeeds ? "good" : "bad"}>{answer.comparison.succeeds ? "now succeeds" : "still fails"} · as {answer.user} in {answer.context}{answer.changes.length ? ` · ${answer.changes.join("; ")}` : ""}</p>
          <div class="sides">
            {(["before", "after"] as const).map((k) => {
              const s = answer.comparison[k];
              return (
                <div class="side" data-testid={`replay-${k}`}>
                  <h4>{k}{s.id !== null ? <> · <a href="#" onClick={(e) => { e.preventDefault(); onOpen(s.id!); }}>#{s.id}</a></> : null}</h4>
                  <div>status <span class={`badge ${statusClass({ status: s.status, error: s.error })}`}>{s.status ?? "none"}</span></div>
                  <div>latency {ms(s.latencyMs)}</div>
                  {s.error ? <div class="bad">{s.error}</div> : null}
                  <div>flags {s.flags.length ? s.flags.join(", ") : "none"}</div>
                  <pre class="small">{s.body}</pre>
                </div>
              );
            })}
          </div>
          <p class="muted">{answer.comparison.bodyDiff}</p>
        </div>
      ) : null}
    </div>
  );
}


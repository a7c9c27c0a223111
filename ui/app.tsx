// kubewire's web view: the filter bar, tabs (exchanges, flags, timeline, stats), the live
// virtualised list fed by server-sent events, and the keyboard (j/k, /, Enter, Esc).
import { render } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { DetailView } from "./detail.js";
import { FlagsView, StatsView, TimelineView } from "./views.js";
import { EMPTY_FILTER, clock, filterQuery, getJson, ms, resourceOf, statusClass, type Filter, type Row } from "./lib.js";

const ROW_H = 26;
const PAGE = 300;
type Tab = "exchanges" | "flags" | "timeline" | "stats";

function App() {
  const [tab, setTab] = useState<Tab>("exchanges");
  const [draft, setDraft] = useState<Filter>(EMPTY_FILTER);
  const [filter, setFilter] = useState<Filter>(EMPTY_FILTER);
  const [rows, setRows] = useState<Row[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState("");
  const [selected, setSelected] = useState(0);
  const [openId, setOpenId] = useState<number | null>(null);
  const [live, setLive] = useState(false);
  const [tick, setTick] = useState(0);
  const [kinds, setKinds] = useState<string[]>([]);
  const loading = useRef(false);
  const changed = useRef(false);
  const filterInput = useRef<HTMLInputElement>(null);
  const qs = filterQuery(filter);

  useEffect(() => {
    getJson<{ kinds: string[] }>("/api/meta").then((m) => setKinds(m.kinds), () => undefined);
  }, []);

  // first page, then live rows above it
  useEffect(() => {
    let source: EventSource | null = null;
    let cancelled = false;
    setRows([]);
    setNext(null);
    setSelected(0);
    setError("");
    getJson<{ items: Row[]; next: number | null }>(`/api/exchanges?${filterQuery(filter, { limit: PAGE })}`).then(
      (page) => {
        if (cancelled) return;
        setRows(page.items);
        setNext(page.next);
        const after = page.items[0]?.id ?? 0; // 0 for an empty page: nothing recorded since may be missed
        source = new EventSource(`/api/events?${filterQuery(filter, { after })}`);
        source.onopen = () => setLive(true);
        source.onerror = () => setLive(false);
        source.addEventListener("exchanges", (e) => {
          const fresh = (JSON.parse((e as MessageEvent).data) as Row[]).reverse();
          setRows((old) => {
            const top = old[0]?.id ?? 0;
            return [...fresh.filter((r) => r.id > top), ...old];
          });
          setSelected((s) => (s === 0 ? 0 : s + fresh.length));
          changed.current = true;
        });
      },
      (e) => setError(e.message),
    );
    return () => {
      cancelled = true;
      source?.close();
      setLive(false);
    };
  }, [qs]);

  // the flags, timeline and stats views refresh at most every 2 s while exchanges arrive
  useEffect(() => {
    const t = setInterval(() => {
      if (!changed.current) return;
      changed.current = false;
      setTick((n) => n + 1);
    }, 2000);
    return () => clearInterval(t);
  }, []);

  const loadMore = useCallback(() => {
    if (next === null || loading.current) return;
    loading.current = true;
    getJson<{ items: Row[]; next: number | null }>(`/api/exchanges?${filterQuery(filter, { limit: PAGE, before: next })}`).then(
      (page) => {
        setRows((old) => [...old, ...page.items]);
        setNext(page.next);
        loading.current = false;
      },
      () => (loading.current = false),
    );
  }, [next, qs]);

  const apply = (f: Filter) => {
    setDraft(f);
    setFilter(f);
  };

  // keyboard as in mitmweb
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement || e.target instanceof HTMLTextAreaElement;
      if (e.key === "Escape") {
        if (typing) (e.target as HTMLElement).blur();
        else setOpenId(null);
        return;
      }
      if (typing) return;
      if (e.key === "/") {
        e.preventDefault();
        filterInput.current?.focus();
      } else if (tab === "exchanges" && (e.key === "j" || e.key === "ArrowDown")) {
        e.preventDefault();
        setSelected((s) => Math.min(rows.length - 1, s + 1));
      } else if (tab === "exchanges" && (e.key === "k" || e.key === "ArrowUp")) {
        e.preventDefault();
        setSelected((s) => Math.max(0, s - 1));
      } else if (tab === "exchanges" && e.key === "Enter" && rows[selected]) {
        setOpenId(rows[selected].id);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [rows, selected, tab]);

  const open = (id: number) => setOpenId(id);

  return (
    <div class={`app${openId !== null ? " with-detail" : ""}`}>
      <header class="top">
        <h1>kubewire</h1>
        <nav>
          {(["exchanges", "flags", "timeline", "stats"] as Tab[]).map((t) => (
            <button class={`tab${tab === t ? " active" : ""}`} onClick={() => setTab(t)} data-testid={`tab-${t}`}>{t}</button>
          ))}
        </nav>
        <span class={`live${live ? " on" : ""}`} title="new exchanges appear as they are recorded">{live ? "● live" : "○ offline"}</span>
        <a class="har" href={`/api/export.har?${qs}`} download="kubewire.har">Export HAR</a>
      </header>
      <FilterBar draft={draft} setDraft={setDraft} apply={apply} kinds={kinds} inputRef={filterInput} />
      {error ? <p class="error pad">{error}</p> : null}
      <main>
        <div class="pane">
          {tab === "exchanges" ? (
            <List rows={rows} selected={selected} setSelected={setSelected} open={open} loadMore={loadMore} hasMore={next !== null} openId={openId} />
          ) : tab === "flags" ? (
            <FlagsView filter={filter} onOpen={open} tick={tick} onFilterFlag={(kind) => { apply({ ...filter, flag: kind }); setTab("exchanges"); }} />
          ) : tab === "timeline" ? (
            <TimelineView filter={filter} onOpen={open} tick={tick} />
          ) : (
            <StatsView filter={filter} tick={tick} />
          )}
        </div>
        {openId !== null ? <DetailView id={openId} onClose={() => setOpenId(null)} onOpen={open} /> : null}
      </main>
    </div>
  );
}

function FilterBar({ draft, setDraft, apply, kinds, inputRef }: { draft: Filter; setDraft: (f: Filter) => void; apply: (f: Filter) => void; kinds: string[]; inputRef: any }) {
  const field = (k: keyof Filter, placeholder: string, width = 7) => (
    <input name={k} placeholder={placeholder} value={draft[k]} style={{ width: `${width}em` }} onInput={(e) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value })} />
  );
  return (
    <form class="filters" onSubmit={(e) => { e.preventDefault(); apply(draft); }}>
      <input name="q" ref={inputRef} placeholder="/ path contains" value={draft.q} style={{ width: "14em" }} onInput={(e) => setDraft({ ...draft, q: (e.target as HTMLInputElement).value })} />
      <select name="status" value={draft.status} onChange={(e) => apply({ ...draft, status: (e.target as HTMLSelectElement).value })}>
        <option value="">any status</option>
        {["4xx", "5xx", "error", "401", "403", "404", "409", "410", "429", "500", "502", "503", "504"].map((s) => <option value={s}>{s}</option>)}
      </select>
      {field("verb", "verb", 5)}
      {field("resource", "resource", 8)}
      {field("namespace", "namespace", 7)}
      {field("name", "name", 7)}
      {field("since", "since 10m", 5)}
      <select name="flag" value={draft.flag} onChange={(e) => apply({ ...draft, flag: (e.target as HTMLSelectElement).value })}>
        <option value="">any flag</option>
        {kinds.map((k) => <option value={k}>{k}</option>)}
      </select>
      <select name="origin" value={draft.origin} onChange={(e) => apply({ ...draft, origin: (e.target as HTMLSelectElement).value })}>
        <option value="">any origin</option>
        {["proxy", "replay", "doctor", "import"].map((o) => <option value={o}>{o}</option>)}
      </select>
      <button type="submit">Filter</button>
      <button type="button" onClick={() => apply(EMPTY_FILTER)}>Clear</button>
    </form>
  );
}

/** Only the rows in view (plus a margin) are in the DOM, so 100,000 rows scroll like 100. */
function List({ rows, selected, setSelected, open, loadMore, hasMore, openId }: {
  rows: Row[]; selected: number; setSelected: (n: number) => void; open: (id: number) => void; loadMore: () => void; hasMore: boolean; openId: number | null;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = box.current!;
    const measure = () => setHeight(el.clientHeight);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  // keep the selected row in view
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const y = selected * ROW_H;
    if (y < el.scrollTop) el.scrollTop = y;
    else if (y + ROW_H > el.scrollTop + el.clientHeight - ROW_H) el.scrollTop = y + 2 * ROW_H - el.clientHeight;
  }, [selected]);
  const first = Math.max(0, Math.floor(top / ROW_H) - 10);
  const last = Math.min(rows.length, Math.ceil((top + height) / ROW_H) + 10);
  const onScroll = () => {
    const el = box.current!;
    setTop(el.scrollTop);
    if (hasMore && el.scrollTop + el.clientHeight > el.scrollHeight - 20 * ROW_H) loadMore();
  };
  const visible = useMemo(() => rows.slice(first, last), [rows, first, last]);
  return (
    <div class="list" data-testid="list">
      <div class="row head"><span class="c-id">#</span><span class="c-time">time</span><span class="c-status">status</span><span class="c-method">method</span><span class="c-res">resource</span><span class="c-ns">namespace/name</span><span class="c-path">path</span><span class="c-dur">latency</span><span class="c-flags">flags</span></div>
      <div class="scroll" ref={box} onScroll={onScroll} tabIndex={0}>
        <div style={{ height: `${rows.length * ROW_H}px`, position: "relative" }}>
          {visible.map((r, i) => {
            const n = first + i;
            return (
              <div key={r.id} data-testid="row" data-id={r.id} data-status={r.status ?? "none"}
                class={`row ${statusClass(r)}${r.flags.length ? " flagged" : ""}${n === selected ? " selected" : ""}${r.id === openId ? " opened" : ""}`}
                style={{ top: `${n * ROW_H}px` }} onClick={() => { setSelected(n); open(r.id); }}>
                <span class="c-id">{r.id}</span>
                <span class="c-time">{clock(r.time)}</span>
                <span class="c-status">{r.status ?? r.error?.code ?? "—"}</span>
                <span class="c-method">{r.method}</span>
                <span class="c-res">{resourceOf(r)}</span>
                <span class="c-ns">{r.namespace}{r.name ? `/${r.name}` : ""}</span>
                <span class="c-path">{r.path}{r.query ? `?${r.query}` : ""}</span>
                <span class="c-dur">{ms(r.durationMs)}</span>
                <span class="c-flags">{r.flags.map((f) => <span class="chip">{f}</span>)}</span>
              </div>
            );
          })}
        </div>
        {rows.length === 0 ? <p class="muted pad">No exchanges yet: they appear here as they are recorded.</p> : null}
      </div>
      <div class="foot muted">{rows.length} shown{hasMore ? " (scroll for older)" : ""} · j/k move · Enter opens · / filters · Esc closes</div>
    </div>
  );
}

render(<App />, document.getElementById("root")!);

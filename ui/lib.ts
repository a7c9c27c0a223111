// The page's data: the JSON API's shapes, fetch helpers (same-origin, cookie), filters as a
// query string, and small formatters. Nothing here builds HTML from strings.
/** One row of /api/exchanges: the `ls -o json` shape, typed where the server makes it. */
import type { ExchangeRow as Row } from "../src/store/rows.js";
export type { Row };

export interface Filter {
  status: string;
  verb: string;
  resource: string;
  namespace: string;
  name: string;
  since: string;
  flag: string;
  origin: string;
  q: string;
}

export const EMPTY_FILTER: Filter = { status: "", verb: "", resource: "", namespace: "", name: "", since: "", flag: "", origin: "", q: "" };

export function filterQuery(f: Filter, extra: Record<string, string | number | null | undefined> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v.trim()) p.set(k, v.trim());
  for (const [k, v] of Object.entries(extra)) if (v !== null && v !== undefined && v !== "") p.set(k, String(v));
  return p.toString();
}

export class ApiError extends Error {}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: "same-origin" });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new ApiError(body.error ?? `HTTP ${res.status}`);
  return body as T;
}

export async function postJson<T>(path: string, value: unknown): Promise<{ ok: boolean; body: T & { error?: string; needsConfirmation?: boolean } }> {
  const res = await fetch(path, { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: JSON.stringify(value) });
  return { ok: res.ok, body: await res.json().catch(() => ({ error: `HTTP ${res.status}` })) };
}

export function statusClass(r: { status: number | null; error: unknown }): string {
  if (r.status === null) return "serr";
  if (r.status >= 500) return "s5xx";
  if (r.status >= 400) return "s4xx";
  if (r.status >= 300) return "s3xx";
  return "s2xx";
}

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined) return "-";
  if (n < 1) return `${n.toFixed(2)}ms`;
  if (n < 1000) return `${Math.round(n)}ms`;
  return `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)}s`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}KiB`;
  return `${(n / 1024 / 1024).toFixed(1)}MiB`;
}

export function clock(iso: string | number): string {
  const d = new Date(iso);
  return `${d.toISOString().slice(11, 23)}`;
}

export function resourceOf(r: Row): string {
  if (!r.resource) return r.verb ? `(${r.verb})` : "";
  return `${r.resource}${r.group ? `.${r.group}` : ""}${r.subresource ? `/${r.subresource}` : ""}`; // as --resource takes it
}

export async function copy(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

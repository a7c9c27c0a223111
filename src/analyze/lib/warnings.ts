// Reading `Warning` response headers (RFC 9111: `299 - "text"`, one or more per value) and the
// deprecation text kube-apiserver writes into them: "<group/version> <Kind> is deprecated in
// v1.X+, unavailable in v1.Y+; use <group/version> <Kind>" (apimachinery's WarningMessage).
import type { Headers } from "../../types.js";

export interface Deprecation {
  /** the deprecated API, e.g. "policy/v1beta1 PodSecurityPolicy" */
  api: string;
  deprecatedIn: string;
  /** the release it is no longer served in, when the text says */
  removedIn?: string;
  /** the API to use instead, when the text names one */
  replacement?: string;
}

/** Each warning text of the headers, in order, unquoted; every value of a repeated header. */
export function warningTexts(headers: Headers | undefined): string[] {
  if (!headers) return [];
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== "warning") continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      const re = /(\d{3})\s+\S+\s+"((?:[^"\\]|\\.)*)"(?:\s+"(?:[^"\\]|\\.)*")?/g;
      let found = false;
      for (let m = re.exec(v); m; m = re.exec(v)) {
        out.push(m[2].replace(/\\(.)/g, "$1"));
        found = true;
      }
      if (!found && v.trim()) out.push(v.trim());
    }
  }
  return out;
}

/** The parts of a kube-apiserver deprecation warning, or null for any other warning. */
export function parseDeprecation(text: string): Deprecation | null {
  const m = /^(\S+ \S+) is deprecated in (v\d+\.\d+)\+(?:, unavailable in (v\d+\.\d+)\+)?(?:; use (.+))?$/.exec(text.trim());
  if (!m) return null;
  return { api: m[1], deprecatedIn: m[2], ...(m[3] ? { removedIn: m[3] } : {}), ...(m[4] ? { replacement: m[4].trim() } : {}) };
}

/** A warning about a deprecated API: kube-apiserver's wording, or any warning that says "deprecated". */
export function isDeprecationWarning(text: string): boolean {
  return parseDeprecation(text) !== null || /\bdeprecated\b/i.test(text);
}

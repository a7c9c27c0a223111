// A kubeconfig user's impersonation fields (as, as-uid, as-groups, as-user-extra) as the
// Impersonate-* headers client-go sends, and the names kubewire records for them.

/** What kubewire adds to each upstream request on the user's behalf: names, never credentials. */
export interface ImpersonationAdded {
  user: string;
  uid?: string;
  groups?: string[];
  /** the keys of as-user-extra (values are not recorded) */
  extra?: string[];
}

const LEGAL_HEADER_KEY = /^[A-Za-z0-9!#$&'*+\-.^_`|~]$/;

/** client-go's headerKeyEscape: every byte that may not appear in a header name (and %) as %XX. */
function headerKeyEscape(key: string): string {
  let out = "";
  for (const b of Buffer.from(key, "utf8")) {
    const ch = String.fromCharCode(b);
    out += b < 0x80 && LEGAL_HEADER_KEY.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** The impersonation the user entry asks for, or null. */
export function impersonationOf(user: Record<string, any> | undefined): ImpersonationAdded | null {
  if (!user) return null;
  const as = typeof user.as === "string" ? user.as : "";
  const uid = typeof user["as-uid"] === "string" && user["as-uid"] ? user["as-uid"] : undefined;
  const groups = Array.isArray(user["as-groups"]) ? user["as-groups"].map(String).filter(Boolean) : [];
  const extraMap = user["as-user-extra"] && typeof user["as-user-extra"] === "object" ? (user["as-user-extra"] as Record<string, unknown>) : {};
  const extra = Object.keys(extraMap);
  if (!as && !uid && groups.length === 0 && extra.length === 0) return null;
  return { user: as, ...(uid ? { uid } : {}), ...(groups.length ? { groups } : {}), ...(extra.length ? { extra } : {}) };
}

/**
 * The headers, one entry per value. A header that repeats (Impersonate-Group, Impersonate-Extra-*)
 * appears once per value under names that differ only in letter case, so that a flat header
 * list sends each value as its own field, as Go's Header.Add does.
 */
export function impersonationHeaders(user: Record<string, any> | undefined): Record<string, string> {
  const names = impersonationOf(user);
  const out: Record<string, string> = {};
  if (!names) return out;
  const add = (name: string, values: string[]) => values.forEach((v, i) => (out[caseVariant(name, i)] = v));
  if (names.user) add("Impersonate-User", [names.user]);
  if (names.uid) add("Impersonate-Uid", [names.uid]);
  add("Impersonate-Group", names.groups ?? []);
  for (const [k, vv] of Object.entries((user!["as-user-extra"] ?? {}) as Record<string, unknown>)) {
    add(`Impersonate-Extra-${headerKeyEscape(k)}`, (Array.isArray(vv) ? vv : [vv]).map(String));
  }
  return out;
}

/** The i-th spelling of a header name: the name itself, then variants differing in letter case. */
function caseVariant(name: string, i: number): string {
  if (i === 0) return name;
  const letters = [...name].map((c, j) => ({ c, j })).filter(({ c }) => c.toLowerCase() !== c.toUpperCase());
  const chars = [...name.toLowerCase()];
  // i in binary picks which letters are upper case: distinct for every i below 2^letters
  for (let b = 0; b < letters.length; b++) if ((i >> b) & 1) chars[letters[b].j] = chars[letters[b].j].toUpperCase();
  return chars.join("");
}

// The host of a URL as a dialer and a certificate see it: the hostname without an IPv6 literal's brackets.
// One copy for every stage (proxy failure messages, analyze's advice, the HAR writer, doctor, NO_PROXY).

/** The host of url; for text that is no URL, fallback (by default the text itself). */
export function hostOf(url: string | URL, fallback?: string): string {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : url;
  } catch {
    return fallback ?? String(url);
  }
  return parsed.hostname.replace(/^\[|\]$/g, "");
}

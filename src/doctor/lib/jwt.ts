// Reads the claims of a JWT bearer token (no signature check) so its expiry can be told
// without printing it: only iss, sub and exp ever appear in output.
export interface JwtClaims {
  iss?: string;
  sub?: string;
  /** epoch milliseconds */
  exp?: number;
  nbf?: number;
}

/** The claims of a JWT, or null when the token is not one (an opaque token). */
export function decodeJwt(token: string): JwtClaims | null {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
    if (typeof header !== "object" || !header || typeof header.alg !== "string") return null;
    const payload = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    if (typeof payload !== "object" || !payload) return null;
    const claims: JwtClaims = {};
    if (typeof payload.iss === "string") claims.iss = payload.iss;
    if (typeof payload.sub === "string") claims.sub = payload.sub;
    if (typeof payload.exp === "number") claims.exp = payload.exp * 1000;
    if (typeof payload.nbf === "number") claims.nbf = payload.nbf * 1000;
    return claims;
  } catch {
    return null;
  }
}

export function describeClaims(c: JwtClaims): string {
  return [c.iss ? `iss=${c.iss}` : "", c.sub ? `sub=${c.sub}` : ""].filter(Boolean).join(", ");
}

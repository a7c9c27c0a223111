// x509-not-yet-valid: the API server's certificate starts later than this machine's clock
// says it is now: a freshly issued certificate, or a clock that is wrong here or there.
import type { Exchange } from "../types.js";
import { tlsRule, leaf, servers } from "./lib/tls-rule.js";
import { header, requests } from "./lib/util.js";

function serverDate(group: Exchange[]): string | undefined {
  for (const ex of group) {
    const d = header(ex.response?.headers, "date");
    if (d) return d; // a response came from the API server (kubewire's own answers are no responses)
  }
  return undefined;
}

export const rule = tlsRule({
  kind: "x509-not-yet-valid",
  help: "the API server's certificate is not valid yet: a clock may be wrong",
  codes: ["CERT_NOT_YET_VALID"],
  message: (group, ctx) => {
    const cert = leaf(group);
    return `${requests(ctx.groupSize ?? group.length)} failed because the certificate of ${servers(group)} is not valid until ${cert?.notBefore ?? "a later time"}: a clock may be wrong.`;
  },
  extraEvidence: (group) => {
    const cert = leaf(group);
    const date = serverDate(group);
    return [
      cert ? `this machine's clock read ${new Date(group[0].startedAt).toISOString()} at the first attempt; the certificate starts at ${cert.notBefore}` : "",
      date ? `the server's Date header said ${date}` : "the server's Date is not known (no response was received over TLS)",
    ];
  },
  advice: () => [
    "check this machine's clock (date -u; timedatectl status) and the API server's, and sync them with NTP",
    "if the certificate was just issued with a start time in the future, wait for it or reissue it with a correct notBefore",
  ],
});

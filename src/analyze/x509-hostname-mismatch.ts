// x509-hostname-mismatch: the API server's certificate does not name the host the kubeconfig
// connects to ("x509: certificate is valid for 10.96.0.1, not 127.0.0.1").
import type { Exchange } from "../types.js";
import { tlsRule, leaf } from "./lib/tls-rule.js";
import { clusterField, distinct, requests } from "./lib/util.js";
import { hostOf } from "../url.js";

function sans(group: Exchange[]): string[] {
  return (leaf(group)?.san ?? []).map((s) => s.replace(/^(DNS|IP|IP Address):/, ""));
}

export const rule = tlsRule({
  kind: "x509-hostname-mismatch",
  help: "the API server's certificate does not name the host in the kubeconfig's server",
  codes: ["ERR_TLS_CERT_ALTNAME_INVALID"],
  message: (group, ctx) => {
    const hosts = distinct(group.map((ex) => hostOf(ex.clusterUrl)));
    const names = sans(group);
    return `${requests(ctx.groupSize ?? group.length)} failed because the certificate is valid for ${names.join(", ") || "no names"}, not ${hosts.join(", ")}.`;
  },
  extraEvidence: (group) => [`host asked for: ${distinct(group.map((ex) => hostOf(ex.clusterUrl))).join(", ")}`, `names in the certificate: ${sans(group).join(", ") || "none"}`],
  advice: (group) => {
    const names = sans(group).filter((n) => !/^[\d.:]+$/.test(n));
    const url = group[0].clusterUrl;
    return [
      `set tls-server-name: ${names[0] ?? "NAME"} in ${clusterField(group[0], "the entry")}, so the certificate is checked against a name it has`,
      `or change the server ${url} to an address the certificate names (${sans(group).join(", ") || "none"})`,
      "or reissue the API server certificate with this host among its SANs (kubeadm: apiServer.certSANs)",
    ];
  },
});

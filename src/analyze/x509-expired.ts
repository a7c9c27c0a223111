// x509-expired: the API server's certificate (or one in its chain) has expired, so the
// TLS handshake fails before any request is sent ("x509: certificate has expired").
import { tlsRule, leaf, servers } from "./lib/tls-rule.js";
import { clusterField, requests } from "./lib/util.js";

export const rule = tlsRule({
  kind: "x509-expired",
  help: "the API server's certificate has expired",
  codes: ["CERT_HAS_EXPIRED"],
  message: (group, ctx) => {
    const cert = leaf(group);
    return `${requests(ctx.groupSize ?? group.length)} failed because the certificate of ${servers(group)} expired${cert ? ` at ${cert.notAfter}` : ""}.`;
  },
  advice: (group) => [
    "renew the API server certificate (kubeadm: kubeadm certs renew apiserver, then restart kube-apiserver)",
    "if the certificate looks valid elsewhere, check this machine's clock (date -u)",
    `if the cluster deliberately serves this certificate, nothing in ${clusterField(group[0], "certificate-authority-data")} can fix it: only insecure-skip-tls-verify would, and it should not be used`,
  ],
});

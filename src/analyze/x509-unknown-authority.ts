// x509-unknown-authority: the API server's certificate is signed by a CA this kubeconfig does
// not trust ("x509: certificate signed by unknown authority").
import { tlsRule, servers } from "./lib/tls-rule.js";
import { clusterField, requests } from "./lib/util.js";

export const rule = tlsRule({
  kind: "x509-unknown-authority",
  help: "the API server's certificate is signed by a CA the kubeconfig does not trust",
  codes: ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "SELF_SIGNED_CERT_IN_CHAIN"],
  message: (group, ctx) => `${requests(ctx.groupSize ?? group.length)} failed because the certificate of ${servers(group)} is signed by an authority the kubeconfig does not trust.`,
  advice: (group) => [
    `set ${clusterField(group[0], "certificate-authority-data")} to the base64 PEM of the CA that signed the server certificate (its issuer is in the chain above)`,
    "get that CA from the cluster's admin kubeconfig, or kubectl config view --raw on a machine that works",
    "if you reach the cluster through a TLS-intercepting proxy, add that proxy's CA instead",
  ],
});

// x509-self-signed: the API server presents a self-signed certificate that the kubeconfig
// does not trust (a test cluster, or a certificate generated at first start).
import { tlsRule, leaf, servers } from "./lib/tls-rule.js";
import { clusterField, requests } from "./lib/util.js";

export const rule = tlsRule({
  kind: "x509-self-signed",
  help: "the API server presents a self-signed certificate the kubeconfig does not trust",
  codes: ["DEPTH_ZERO_SELF_SIGNED_CERT"],
  message: (group, ctx) => `${requests(ctx.groupSize ?? group.length)} failed because ${servers(group)} presents a self-signed certificate${leaf(group) ? ` (${leaf(group)!.subject})` : ""} that is not trusted.`,
  advice: (group) => [
    `if this is the right server, put its certificate (its sha256 is ${leaf(group)?.sha256 || "in kubewire show"}) in ${clusterField(group[0], "certificate-authority-data")}`,
    "better: give the API server a certificate signed by a CA, and trust that CA",
  ],
});

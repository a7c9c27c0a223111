// x509-incomplete-chain: the API server sends its certificate without the intermediate that
// links it to the trusted CA, so the chain cannot be built.
import { tlsRule, servers } from "./lib/tls-rule.js";
import { clusterField, requests } from "./lib/util.js";

export const rule = tlsRule({
  kind: "x509-incomplete-chain",
  help: "the API server sends an incomplete chain: an intermediate certificate is missing",
  codes: ["UNABLE_TO_GET_ISSUER_CERT"],
  message: (group, ctx) => `${requests(ctx.groupSize ?? group.length)} failed because ${servers(group)} sends an incomplete certificate chain (an intermediate is missing).`,
  advice: (group) => [
    "configure the API server to send the full chain (leaf, then intermediates) in its --tls-cert-file",
    `or append the intermediate to ${clusterField(group[0], "certificate-authority-data")}`,
  ],
});

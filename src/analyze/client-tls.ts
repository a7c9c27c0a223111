// client-tls: a client's TLS handshake with kubewire failed: it does not trust kubewire's local
// CA (it still uses its own kubeconfig's CA), or it spoke plain HTTP to the TLS port.
import type { Exchange } from "../types.js";
import type { ExchangeRule } from "./lib/rule.js";
import { distinct, findingOf, requests } from "./lib/util.js";

export const rule: ExchangeRule = {
  kind: "client-tls",
  severity: "error",
  help: "a client does not trust kubewire's local CA: point it at the kubeconfig kubewire wrote",
  match: (ex: Exchange) => ex.error?.code === "CLIENT_TLS",
  explain(group, ctx) {
    const clients = distinct(group.map((ex) => ex.client.address.replace(/:\d+$/, "")));
    const message = `${requests(ctx.groupSize ?? group.length)} never reached kubewire: the client's TLS handshake with kubewire failed (it does not trust kubewire's local CA).`;
    const evidence = [...distinct(group.map((ex) => ex.error!.message)).slice(0, 5), `from ${clients.join(", ")}`];
    const advice = [
      "point the client at the kubeconfig kubewire wrote (printed by kubewire start; default ~/.kubewire/kubeconfig): export KUBECONFIG=~/.kubewire/kubeconfig",
      "or let kubewire start the program for you: kubewire exec -- PROGRAM ARGS",
      "a client with its own trust settings needs kubewire's CA (~/.kubewire/ca.crt), not the cluster's",
    ];
    return findingOf(rule, group, message, evidence, advice);
  },
};

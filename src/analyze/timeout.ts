// timeout: a request that got no (complete) answer in time: the API server or the path to it
// stalled in DNS, connect, the TLS handshake, before the response headers, or mid-body.
import type { Exchange } from "../types.js";
import type { ExchangeRule } from "./lib/rule.js";
import { clientTimeoutMs, describeRequest, distinct, durationText, findingOf, requests } from "./lib/util.js";

const PHASES: Record<string, string> = {
  dns: "DNS",
  connect: "connect",
  tls: "TLS handshake",
  headers: "waiting for headers",
  body: "body stalled",
};

function phaseOf(ex: Exchange): string {
  return PHASES[ex.error?.phase ?? ""] ?? "waiting for headers";
}

export const rule: ExchangeRule = {
  kind: "timeout",
  severity: "error",
  help: "no answer in time, with the phase that stalled (DNS, connect, TLS, headers, body) and the client's own timeout",
  match: (ex: Exchange) =>
    ex.error !== null && (ex.error.code === "ETIMEDOUT" || (ex.error.code === "CLIENT_ABORTED" && (ex.error.phase === "headers" || ex.error.phase === "body"))),
  explain(group, ctx) {
    const phases = distinct(group.map(phaseOf));
    const byClient = group.filter((ex) => ex.error!.code === "CLIENT_ABORTED");
    const timeouts = distinct(group.map((ex) => clientTimeoutMs(ex.request.query)).filter((t): t is number => t !== null));
    const who = byClient.length === group.length ? "the client gave up" : byClient.length === 0 ? "kubewire gave up on the API server" : "the client or kubewire gave up";
    const own = timeouts.length ? ` (the client's own timeout: ${timeouts.map(durationText).join(", ")})` : "";
    const message = `${requests(ctx.groupSize ?? group.length)} timed out while ${phases.join(", ")}: ${who}${own}.`;
    const evidence = group.slice(0, 10).map((ex) => {
      const t = clientTimeoutMs(ex.request.query);
      return `#${ex.id} ${describeRequest({ ...ex.info, method: ex.request.method, path: ex.request.path })}: ${ex.error!.code} in phase ${phaseOf(ex)} after ${durationText(ex.timing.totalMs)}${t !== null ? `, client timeout=${durationText(t)}` : ""}`;
    });
    const advice: string[] = [];
    if (phases.includes("DNS") || phases.includes("connect") || phases.includes("TLS handshake")) {
      advice.push("the API server cannot be reached in time: check the server address, VPN, firewall and any HTTP proxy between here and the cluster");
    }
    if (phases.includes("TLS handshake")) advice.push("something accepts TCP on that port but does not speak TLS: check that the port is the API server's");
    if (phases.includes("waiting for headers")) {
      advice.push("the API server accepted the request but did not answer: check its health (kubectl get --raw /readyz?verbose) and the namespaces or webhooks involved");
    }
    if (phases.includes("body stalled")) advice.push("the response started and then stalled: for big lists use limit and continue, for streams use watch");
    if (timeouts.length) advice.push(`if the request is legitimately slow, raise the client's timeout (kubectl --request-timeout, client-go rest.Config.Timeout) above ${durationText(Math.max(...timeouts))}`);
    return findingOf(rule, group, message, evidence, advice);
  },
};

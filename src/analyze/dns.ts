// dns: the API server's host name does not resolve (wrong server in the kubeconfig, a
// cluster that was deleted, or DNS/VPN trouble on this machine).
import { networkRule } from "./lib/network-rule.js";
import { distinct } from "./lib/util.js";
import { hostOf } from "../url.js";

export const rule = networkRule({
  kind: "dns",
  help: "the API server's host name does not resolve",
  codes: ["ENOTFOUND", "EAI_AGAIN"],
  what: (servers) => `the host name of ${servers} does not resolve`,
  advice: (group) => [
    `check the host in the server of context "${group[0].context}" (kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')`,
    `check this machine's DNS: getent hosts ${distinct(group.map((ex) => hostOf(ex.clusterUrl))).join(" ")}; a private cluster may need its VPN`,
  ],
  proxyAdvice: (group, proxies) => [
    `the host name of the proxy ${proxies.join(", ")} (proxy-url of the cluster of context "${group[0].context}") does not resolve: check it, and this machine's DNS (getent hosts ${distinct(proxies.map((u) => hostOf(u))).join(" ")})`,
  ],
});

// unauthorized: the API server answered 401 (it did not accept who the client says it is), or
// kubewire could not get a credential at all (an exec plugin failed). Tells missing from rejected credentials.
import type { Exchange } from "../types.js";
import type { AnalyzeContext, CredentialFacts, ExchangeRule } from "./lib/rule.js";
import { distinct, findingOf, iso, requests, responseMessage } from "./lib/util.js";

interface Diagnosis {
  why: string;
  evidence: string[];
  advice: string[];
}

function userField(f: CredentialFacts, field: string): string {
  return `users[${f.user}].user.${field} in ${f.source}`;
}

function diagnose(context: string, group: Exchange[], facts: CredentialFacts | undefined, kubeconfigRead: string | undefined): Diagnosis {
  const last = group[group.length - 1];
  const plugin = group.find((ex) => ex.error?.code === "CREDENTIALS");
  if (plugin) {
    return {
      why: `the credential plugin of context "${context}" failed: ${plugin.error!.message}`,
      evidence: [`#${plugin.id}: ${plugin.error!.message}`],
      advice: [
        facts?.execCommand ? `run the exec plugin yourself to see its error: ${facts.execCommand}` : "run the kubeconfig user's exec command yourself to see its error",
        "log in again with the tool that installed the plugin (for example gcloud, aws or kubelogin), or fix users[].user.exec in the kubeconfig",
      ],
    };
  }
  const serverSaid = distinct(group.map(responseMessage).filter(Boolean))[0];
  const evidence = serverSaid ? [`the API server said: ${serverSaid}`] : [];
  if (!facts) {
    return {
      why: `the API server rejected the credentials of context "${context}" (kubewire could not read them to say why)`,
      evidence: [...evidence, `context "${context}" is not in ${kubeconfigRead ? `the kubeconfig read (${kubeconfigRead})` : "the kubeconfig that was read"}, so its credential could not be checked`],
      advice: [`run kubewire flags --kubeconfig PATH --context ${context} to check the token or certificate it uses`, `or check by hand: kubectl --context ${context} auth whoami`],
    };
  }
  if (facts.kind === "none") {
    return {
      why: `context "${context}" sends no credentials: kubeconfig user "${facts.user}" has no token, client certificate or exec plugin`,
      evidence: [...evidence, `${facts.source}: user "${facts.user}" has no credential fields`],
      advice: [`add a credential to ${userField(facts, "")} (token, client-certificate-data and client-key-data, or exec), or use a context that has one`],
    };
  }
  if (facts.jwt) {
    const { iss, sub, exp } = facts.jwt;
    const claims = [sub ? `sub ${sub}` : "", iss ? `iss ${iss}` : "", exp !== undefined ? `exp ${iso(exp)}` : "no exp"].filter(Boolean).join(", ");
    evidence.push(`bearer token of user "${facts.user}" is a JWT: ${claims}`);
    if (exp !== undefined && exp <= last.startedAt) {
      return {
        why: `the bearer token of context "${context}" (a JWT for ${sub ?? "an unknown subject"}) expired at ${iso(exp)}, before the request`,
        evidence,
        advice: [
          sub?.startsWith("system:serviceaccount:")
            ? `issue a new token (kubectl create token ${sub.split(":")[3]} --namespace ${sub.split(":")[2]}) and put it in ${userField(facts, "token")}`
            : `get a new token from ${iss ?? "its issuer"} and put it in ${userField(facts, "token")}`,
          "a client that reads the token from a file (tokenFile, projected service account token) picks up renewals by itself",
        ],
      };
    }
    return {
      why: `the API server rejected the bearer token of context "${context}" (a JWT for ${sub ?? "an unknown subject"} that has not expired)`,
      evidence,
      advice: [`the token is not expired: check that the API server trusts its issuer ${iss ?? "(none)"} and audience, and that ${sub ?? "its subject"} still exists`, `get a new token and put it in ${userField(facts, "token")}`],
    };
  }
  if (facts.cert) {
    const expired = Date.parse(facts.cert.notAfter) <= last.startedAt;
    evidence.push(`client certificate of user "${facts.user}": subject ${facts.cert.subject}, valid until ${facts.cert.notAfter}`);
    return expired
      ? {
          why: `the client certificate of context "${context}" (${facts.cert.subject}) expired at ${facts.cert.notAfter}`,
          evidence,
          advice: [`renew the client certificate and put it in ${userField(facts, "client-certificate-data")} with its key in client-key-data (kubeadm: kubeadm kubeconfig user)`],
        }
      : {
          why: `the API server rejected the client certificate of context "${context}" (${facts.cert.subject}, not expired)`,
          evidence,
          advice: ["the API server does not trust the CA that signed this client certificate: get one signed by the cluster's client CA"],
        };
  }
  if (facts.kind === "token") {
    return {
      why: `the API server rejected the bearer token of context "${context}" (an opaque token, not a JWT: its expiry cannot be read)`,
      evidence: [...evidence, `user "${facts.user}" in ${facts.source} uses a static token`],
      advice: [`the token is wrong, revoked or for another cluster: get a valid one and put it in ${userField(facts, "token")}`],
    };
  }
  return {
    why: `the API server rejected the ${facts.kind} credentials of context "${context}"`,
    evidence: [...evidence, `user "${facts.user}" in ${facts.source} uses ${facts.kind} credentials`],
    advice: [`log in again, or fix ${userField(facts, facts.kind)}`],
  };
}

export const rule: ExchangeRule = {
  kind: "unauthorized",
  severity: "error",
  help: "401, or no credential at all: tells a missing, expired or rejected token, certificate or exec plugin apart",
  match: (ex: Exchange) => ex.response?.status === 401 || ex.error?.code === "CREDENTIALS",
  explain(group, ctx: AnalyzeContext) {
    const contexts = distinct(group.map((ex) => ex.context));
    const parts = contexts.map((c) => diagnose(c, group.filter((ex) => ex.context === c), ctx.credentials.get(c), ctx.kubeconfigRead));
    const message =
      parts.length === 1
        ? `${requests(ctx.groupSize ?? group.length)} unauthorized: ${parts[0].why}.`
        : `${requests(ctx.groupSize ?? group.length)} unauthorized in ${contexts.length} contexts: ${parts.map((p) => p.why).join("; ")}.`;
    return findingOf(rule, group, message, parts.flatMap((p) => p.evidence), parts.flatMap((p) => p.advice));
  },
};

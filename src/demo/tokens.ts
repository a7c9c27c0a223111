// Service account tokens as the simulated cluster issues them (projected tokens, TokenRequests):
// unsigned JWTs with kube-apiserver's claims, known to the cluster by the token string itself.
import { randomBytes } from "node:crypto";

const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString("base64url");

/** in-cluster: an unsigned projected service-account token (as the kubelet mounts it) for system:serviceaccount:NS:NAME, valid for an hour. */
/** A token for system:serviceaccount:NS:NAME; `pod` binds it to a pod as the kubelet's projected tokens are (a plain TokenRequest is not). */
export function serviceAccountJwt(namespace: string, name: string, seconds = 3600, pod = true): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    aud: ["https://kubernetes.default.svc.cluster.local"],
    exp: now + seconds,
    iat: now,
    iss: "https://kubernetes.default.svc.cluster.local",
    jti: randomBytes(16).toString("hex"),
    "kubernetes.io": { namespace, ...(pod ? { pod: { name: `${name}-7d4b9c-x2x4q`, uid: "4f3c2b1a-0000-4000-8000-000000000002" } } : {}), serviceaccount: { name, uid: "4f3c2b1a-0000-4000-8000-000000000003" } },
    nbf: now,
    sub: `system:serviceaccount:${namespace}:${name}`,
  };
  return `${b64({ alg: "RS256", kid: randomBytes(8).toString("hex") })}.${b64(payload)}.${randomBytes(256).toString("base64url")}`;
}

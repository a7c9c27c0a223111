// The scripted failure namespaces of the simulated cluster, in one table: what each namespace does to
// the requests sent into it, and the sentence `kubewire demo` shows for it. Data only: the handlers
// (admission.ts, api.ts, list-watch.ts, big-namespace.ts) act on `behaviour`; seed.ts creates them.

export type ScriptedBehaviour =
  /** 429 Too Many Requests with Retry-After, before authorization (as API Priority and Fairness rejects) */
  | { kind: "throttle"; retryAfterSeconds: number; text: string }
  /** never answered: the socket stays until the client (or the cluster's close()) ends it */
  | { kind: "hang" }
  /** 500 InternalError with this cause, as a failing etcd makes it */
  | { kind: "fail"; cause: string }
  /** answered after the cluster's slowMs */
  | { kind: "delay" }
  /** a configmap list of the cluster's bigListBytes, streamed in chunks, with its items readable by name */
  | { kind: "big-configmaps" }
  /** every watch ends, after its initial events, with a 410 Expired ERROR event */
  | { kind: "expire-watches" };

export interface FailureNamespace {
  namespace: string;
  behaviour: ScriptedBehaviour;
  /** what a person sees there, in one line (the demo's screen prints it) */
  shows: string;
  /** what the seed creates: the namespace with a pod NAME-0, the namespace alone, or nothing */
  seed: "namespace-and-pod" | "namespace" | "none";
}

/** In seed order (resourceVersions and ages depend on it). */
export const FAILURE_NAMESPACES: readonly FailureNamespace[] = [
  { namespace: "slow", behaviour: { kind: "delay" }, shows: "every request is answered late (a second or more)", seed: "namespace-and-pod" },
  { namespace: "hang", behaviour: { kind: "hang" }, shows: "requests are never answered: the client's own timeout ends them", seed: "namespace-and-pod" },
  {
    namespace: "throttled",
    behaviour: { kind: "throttle", retryAfterSeconds: 1, text: "Too many requests, please try again later.\n" },
    shows: "every request gets 429 Too Many Requests with Retry-After: 1; kubectl retries until its timeout",
    seed: "namespace-and-pod",
  },
  { namespace: "broken", behaviour: { kind: "fail", cause: "etcdserver: request timed out" }, shows: 'every request fails with 500 InternalError "etcdserver: request timed out"', seed: "namespace-and-pod" },
  { namespace: "big", behaviour: { kind: "big-configmaps" }, shows: "holds about 20 MiB of configmaps: a big list, paged by limit and continue or streamed whole", seed: "namespace" },
  { namespace: "expired", behaviour: { kind: "expire-watches" }, shows: "every watch (get -w) ends after its first events with 410 Expired: too old resource version", seed: "none" },
];

const BY_NAME = new Map(FAILURE_NAMESPACES.map((f) => [f.namespace, f]));

/** The scripted behaviour of a namespace, if it has one. */
export function scriptedBehaviour(namespace: string): ScriptedBehaviour | undefined {
  return BY_NAME.get(namespace)?.behaviour;
}

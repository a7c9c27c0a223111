// The Prometheus metrics of a recording run (prom-client): fed from each exchange as the recorder
// takes it (one pass of increments, nothing on the forwarding path) and from gauges read at scrape
// time. Label sets are client-go's and kube-apiserver's, all bounded: no object names, no URLs.
import { openUpstreamConnections } from "../tls/upstream-agent.js";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Exchange } from "../types.js";

/** client-go's rest_client_request_duration_seconds buckets. */
export const CLIENT_GO_LATENCY_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];

/** What the recorder reports at scrape time. */
export interface RecorderGauges {
  stats(): { queued: number; dropped: number };
}

/** kube-apiserver's scope label: resource (named object or create), namespace, cluster, or "" for non-resource paths. */
export function scopeOf(ex: Exchange): string {
  const { info } = ex;
  if (!info.isResourceRequest) return "";
  if (info.name || info.verb === "create") return "resource";
  return info.namespace ? "namespace" : "cluster";
}

/** The User-Agent's product token ("kubectl" of "kubectl/v1.32.0 (linux/amd64) ..."), bounded in length and alphabet. */
export function clientOf(userAgent: string): string {
  const token = userAgent.split("/")[0].split(" ")[0].slice(0, 48);
  return /^[\w.-]+$/.test(token) ? token : token ? "other" : "";
}

/** A label value kept bounded: at most 64 characters of a path segment's alphabet. */
function bounded(v: string): string {
  return v.length > 64 || !/^[\w.:-]*$/.test(v) ? "other" : v;
}

/** Cached label children at most (a client sending random paths cannot grow memory without bound here). */
const MAX_CHILDREN = 10_000;

const WATCH_TYPE = /"type":"(ADDED|MODIFIED|DELETED|BOOKMARK|ERROR)"/g;
const UPSTREAM_PHASES = new Set(["dns", "connect", "tls", "headers", "body", "credentials"]);
const CONNECT_PHASES = new Set(["dns", "connect", "tls"]);

export class KubewireMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: "kubewire_requests_total",
    help: "Requests through kubewire by Kubernetes verb, API group/version/resource, scope, status code and client (the User-Agent's product token)",
    labelNames: ["verb", "group", "version", "resource", "subresource", "scope", "code", "client"] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: "kubewire_request_duration_seconds",
    help: "Request latency as the client saw it through kubewire (client-go's buckets)",
    labelNames: ["verb", "resource"] as const,
    buckets: CLIENT_GO_LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly phase = new Histogram({
    name: "kubewire_request_phase_seconds",
    help: "Time spent in each phase of reaching the API server: dns, connect, tls (new connections only) and ttfb",
    labelNames: ["phase"] as const,
    buckets: CLIENT_GO_LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly upstreamConnections = new Gauge({
    name: "kubewire_upstream_connections",
    help: "Open connections to the API server by protocol",
    labelNames: ["protocol"] as const,
    registers: [this.registry],
    collect() {
      for (const [protocol, n] of openUpstreamConnections()) this.set({ protocol }, n);
    },
  });
  private readonly attempts = new Counter({
    name: "kubewire_upstream_connection_attempts_total",
    help: "New connections kubewire tried to open to the API server, by result (success, failure)",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  private readonly upstreamErrors = new Counter({
    name: "kubewire_upstream_errors_total",
    help: "Failures reaching the API server by error code (ECONNREFUSED, CERT_HAS_EXPIRED, ...) and phase",
    labelNames: ["code", "phase"] as const,
    registers: [this.registry],
  });
  private readonly watchEvents = new Counter({
    name: "kubewire_watch_events_total",
    help: "Watch events relayed, by type (counted in the captured part of each watch stream)",
    labelNames: ["type"] as const,
    registers: [this.registry],
  });
  private readonly watchesOpen = new Gauge({ name: "kubewire_watches_open", help: "Watches open through kubewire now", registers: [this.registry] });
  private readonly throttled = new Counter({ name: "kubewire_throttled_total", help: "429 answers relayed to clients", registers: [this.registry] });
  private readonly certExpiry = new Gauge({
    name: "kubewire_upstream_certificate_expiry_seconds",
    help: "When the API server's serving certificate expires (Unix time in seconds)",
    registers: [this.registry],
  });
  private readonly injected = new Counter({
    name: "kubewire_injected_faults_total",
    help: "Faults kubewire injected on purpose, by fault rule and action",
    labelNames: ["rule", "action"] as const,
    registers: [this.registry],
  });
  private readonly openWatches = new WeakSet<Exchange>();
  private readonly phases = { dns: this.phase.labels("dns"), connect: this.phase.labels("connect"), tls: this.phase.labels("tls"), ttfb: this.phase.labels("ttfb") };
  private readonly children = new Map<string, { requests: { inc(): void }; duration: { observe(v: number): void } }>();

  constructor(recorder?: RecorderGauges) {
    let dropped = 0;
    new Gauge({
      name: "kubewire_recorder_queue_length",
      help: "Exchanges waiting in memory to be written to the database",
      registers: [this.registry],
      collect() {
        if (recorder) this.set(recorder.stats().queued);
      },
    });
    new Counter({
      name: "kubewire_recorder_dropped_total",
      help: "Exchanges lost because neither the database nor the spill file could take them",
      registers: [this.registry],
      collect() {
        if (!recorder) return;
        const now = recorder.stats().dropped;
        if (now > dropped) this.inc(now - dropped);
        dropped = now;
      },
    });
  }

  /** At a request's arrival (the fault engine's hook): counts open watches. */
  arrived(ex: Exchange): void {
    if (ex.info.verb === "watch") {
      this.openWatches.add(ex);
      this.watchesOpen.inc();
    }
  }

  /** A fault rule acted on a request. */
  faultInjected(rule: string, action: string): void {
    this.injected.inc({ rule, action });
  }

  /** One finished exchange, as the recorder takes it. */
  observe(ex: Exchange): void {
    const { info, timing } = ex;
    const status = ex.response?.status;
    // one string key per label set finds its cached child: no label-object hashing per request
    const key = `${info.verb}\u0000${info.apiGroup}\u0000${info.apiVersion}\u0000${info.resource}\u0000${info.subresource}\u0000${info.namespace ? 1 : 0}${info.name ? 1 : 0}${info.isResourceRequest ? 1 : 0}\u0000${status}\u0000${ex.client.userAgent}`;
    let child = this.children.get(key);
    if (!child) {
      if (this.children.size >= MAX_CHILDREN) this.children.clear(); // bounded memory; prom-client keeps the series
      const verb = bounded(info.verb);
      const resource = bounded(info.resource);
      child = {
        requests: this.requests.labels(verb, bounded(info.apiGroup), bounded(info.apiVersion), resource, bounded(info.subresource), scopeOf(ex), status === undefined ? "0" : String(status), clientOf(ex.client.userAgent)),
        duration: this.duration.labels(verb, resource),
      };
      this.children.set(key, child);
    }
    child.requests.inc();
    if (ex.origin !== "import") child.duration.observe(timing.totalMs / 1000);
    if (status === 429) this.throttled.inc();
    if (this.openWatches.has(ex)) {
      this.openWatches.delete(ex);
      this.watchesOpen.dec();
    }
    const upstream = !ex.injected && !(ex.error?.phase === "client");
    if (!upstream) return;
    if (!timing.reusedConnection) {
      if (timing.dnsMs > 0) this.phases.dns.observe(timing.dnsMs / 1000);
      if (timing.connectMs > 0) this.phases.connect.observe(timing.connectMs / 1000);
      if (timing.tlsMs > 0) this.phases.tls.observe(timing.tlsMs / 1000);
      const failedToConnect = !!ex.error?.phase && CONNECT_PHASES.has(ex.error.phase);
      if (failedToConnect || timing.connectMs > 0 || timing.tlsMs > 0) this.attempts.inc({ result: failedToConnect ? "failure" : "success" });
    }
    if (timing.ttfbMs > 0 && ex.response && !ex.injected) this.phases.ttfb.observe(timing.ttfbMs / 1000);
    if (ex.error?.phase && UPSTREAM_PHASES.has(ex.error.phase) && ex.error.code !== "CLIENT_ABORTED") this.upstreamErrors.inc({ code: bounded(ex.error.code), phase: ex.error.phase });
    const leaf = ex.tls?.chain[0];
    if (leaf) {
      const t = Date.parse(leaf.notAfter);
      if (!Number.isNaN(t)) this.certExpiry.set(t / 1000);
    }
    if (ex.stream?.kind === "watch" && ex.response?.body) {
      const text = ex.response.body.encoding === "utf8" ? ex.response.body.data : "";
      let seen = 0;
      for (const m of text.matchAll(WATCH_TYPE)) {
        this.watchEvents.inc({ type: m[1] });
        seen++;
      }
      if (ex.stream.events > seen) this.watchEvents.inc({ type: "unknown" }, ex.stream.events - seen);
    }
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

// Server-side printing: meta.k8s.io/v1 Table objects with the columns kube-apiserver's
// printers (pkg/printers/internalversion) give each resource, and HumanDuration ages.
import type { KObject } from "./store.js";

export interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  object?: unknown;
}

export type IncludeObject = "None" | "Metadata" | "Object";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function col(name: string, type: string, description: string, priority = 0, format = ""): Column {
  return { name, type, format, description, priority };
}

const NAME = col("Name", "string", "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", 0, "name");
const AGE = col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata");

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    const y = Math.floor(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

/** translateTimestampSince */
export function age(timestamp: string | undefined | null, now = Date.now()): string {
  if (!timestamp) return "<unknown>";
  return humanDuration(now - Date.parse(timestamp));
}

function podRow(o: Obj, now: number): unknown[] {
  const statuses: Obj[] = o.status?.containerStatuses ?? [];
  const total = (o.spec?.containers ?? []).length;
  let restarts = 0;
  let ready = 0;
  let lastRestart = 0;
  let reason: string = o.status?.reason || o.status?.phase || "";
  for (const cs of [...statuses].reverse()) {
    restarts += cs.restartCount ?? 0;
    const fin = cs.lastState?.terminated?.finishedAt;
    if (fin && Date.parse(fin) > lastRestart) lastRestart = Date.parse(fin);
    if (cs.state?.waiting?.reason) reason = cs.state.waiting.reason;
    else if (cs.state?.terminated?.reason) reason = cs.state.terminated.reason;
    else if (cs.state?.terminated) reason = cs.state.terminated.signal ? `Signal:${cs.state.terminated.signal}` : `ExitCode:${cs.state.terminated.exitCode}`;
    else if (cs.ready && cs.state?.running) ready++;
  }
  if (o.metadata?.deletionTimestamp) reason = o.status?.reason === "NodeLost" ? "Unknown" : "Terminating";
  const restartsCell = lastRestart ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : restarts;
  const gates: Obj[] = o.spec?.readinessGates ?? [];
  return [
    o.metadata.name,
    `${ready}/${total}`,
    reason,
    restartsCell,
    age(o.metadata.creationTimestamp, now),
    o.status?.podIP || "<none>",
    o.spec?.nodeName || "<none>",
    o.status?.nominatedNodeName || "<none>",
    gates.length ? `${gates.length}` : "<none>",
  ];
}

function servicePorts(ports: Obj[]): string {
  if (!ports.length) return "<none>";
  return ports.map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p.port}/${p.protocol}`)).join(",");
}

function selectorString(sel: Record<string, string> | undefined): string {
  if (!sel || Object.keys(sel).length === 0) return "<none>";
  return Object.keys(sel).sort().map((k) => `${k}=${sel[k]}`).join(",");
}

function externalIPs(o: Obj): string {
  const type = o.spec?.type;
  const ext: string[] = o.spec?.externalIPs ?? [];
  if (type === "LoadBalancer") {
    const ing: Obj[] = o.status?.loadBalancer?.ingress ?? [];
    const all = [...ing.map((i) => i.ip || i.hostname), ...ext];
    return all.length ? all.join(",") : "<pending>";
  }
  if (type === "ExternalName") return o.spec?.externalName ?? "<none>";
  return ext.length ? ext.join(",") : "<none>";
}

function nodeStatus(o: Obj): string {
  const ready = (o.status?.conditions ?? []).find((c: Obj) => c.type === "Ready");
  let s = ready ? (ready.status === "True" ? "Ready" : "NotReady") : "Unknown";
  if (o.spec?.unschedulable) s += ",SchedulingDisabled";
  return s;
}

function nodeRoles(o: Obj): string {
  const roles = Object.keys(o.metadata.labels ?? {}).filter((k) => k.startsWith("node-role.kubernetes.io/")).map((k) => k.slice("node-role.kubernetes.io/".length)).filter(Boolean);
  return roles.length ? roles.sort().join(",") : "<none>";
}

function nodeAddress(o: Obj, type: string): string {
  const a = (o.status?.addresses ?? []).find((x: Obj) => x.type === type);
  return a ? a.address : "<none>";
}

function eventObject(o: Obj): string {
  const io = o.involvedObject ?? {};
  return `${String(io.kind ?? "").toLowerCase()}/${io.name ?? ""}`;
}

interface Printer {
  columns: Column[];
  row(o: Obj, now: number): unknown[];
}

const PRINTERS: Record<string, Printer> = {
  "/pods": {
    columns: [
      NAME,
      col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
      col("Status", "string", "The aggregate status of the containers in this pod."),
      col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
      AGE,
      col("IP", "string", "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", 1),
      col("Node", "string", "NodeName is a request to schedule this pod onto a specific node.", 1),
      col("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.", 1),
      col("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.", 1),
    ],
    row: podRow,
  },
  "apps/deployments": {
    columns: [
      NAME,
      col("Ready", "string", "Number of the pod with ready state"),
      col("Up-to-date", "integer", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
      col("Available", "integer", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
      AGE,
      col("Containers", "string", "Names of each container in the template.", 1),
      col("Images", "string", "Images referenced by each container in the template.", 1),
      col("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", 1),
    ],
    row: (o, now) => [
      o.metadata.name,
      `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`,
      o.status?.updatedReplicas ?? 0,
      o.status?.availableReplicas ?? 0,
      age(o.metadata.creationTimestamp, now),
      (o.spec?.template?.spec?.containers ?? []).map((c: Obj) => c.name).join(","),
      (o.spec?.template?.spec?.containers ?? []).map((c: Obj) => c.image).join(","),
      selectorString(o.spec?.selector?.matchLabels),
    ],
  },
  "/services": {
    columns: [
      NAME,
      col("Type", "string", "type determines how the Service is exposed."),
      col("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
      col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
      col("Port(s)", "string", "The list of ports that are exposed by this service."),
      AGE,
      col("Selector", "string", "Route service traffic to pods with label keys and values matching this selector.", 1),
    ],
    row: (o, now) => [o.metadata.name, o.spec?.type ?? "ClusterIP", o.spec?.clusterIP || "<none>", externalIPs(o), servicePorts(o.spec?.ports ?? []), age(o.metadata.creationTimestamp, now), selectorString(o.spec?.selector)],
  },
  "/namespaces": {
    columns: [NAME, col("Status", "string", "The status of the namespace"), AGE],
    row: (o, now) => [o.metadata.name, o.status?.phase ?? "Active", age(o.metadata.creationTimestamp, now)],
  },
  "/nodes": {
    columns: [
      NAME,
      col("Status", "string", "The status of the node"),
      col("Roles", "string", "The roles of the node"),
      AGE,
      col("Version", "string", "Kubelet Version reported by the node."),
      col("Internal-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available.", 1),
      col("External-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available.", 1),
      col("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
      col("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
      col("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1),
    ],
    row: (o, now) => [
      o.metadata.name,
      nodeStatus(o),
      nodeRoles(o),
      age(o.metadata.creationTimestamp, now),
      o.status?.nodeInfo?.kubeletVersion ?? "",
      nodeAddress(o, "InternalIP"),
      nodeAddress(o, "ExternalIP"),
      o.status?.nodeInfo?.osImage || "<unknown>",
      o.status?.nodeInfo?.kernelVersion || "<unknown>",
      o.status?.nodeInfo?.containerRuntimeVersion || "<unknown>",
    ],
  },
  "/configmaps": {
    columns: [NAME, col("Data", "integer", "Data contains the configuration data."), AGE],
    row: (o, now) => [o.metadata.name, Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length, age(o.metadata.creationTimestamp, now)],
  },
  "/secrets": {
    columns: [NAME, col("Type", "string", "The type of data stored in the secret"), col("Data", "string", "The number of entries in the secret"), AGE],
    row: (o, now) => [o.metadata.name, o.type ?? "Opaque", Object.keys(o.data ?? {}).length, age(o.metadata.creationTimestamp, now)],
  },
  "/events": {
    columns: [
      col("Last Seen", "string", "Time when last event occurred"),
      col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future."),
      col("Reason", "string", "Reason is why the action was taken. It is human-readable. This field can have at most 128 characters."),
      col("Object", "string", "Object this event is about."),
      col("Subobject", "string", "Subobject this event is about.", 1),
      col("Source", "string", "The component reporting this event.", 1),
      col("Message", "string", "A human-readable description of the status of this operation."),
      col("First Seen", "string", "Time when first event occurred", 1),
      col("Count", "string", "Number of times this event has occurred", 1),
      col("Name", "string", "Name of this event", 1),
    ],
    row: (o, now) => {
      const last = o.series?.lastObservedTime ?? o.lastTimestamp ?? o.eventTime;
      const count = o.series?.count ?? o.count ?? 1;
      const first = o.firstTimestamp ?? o.eventTime;
      const lastSeen = count > 1 ? `${age(last, now)} (x${count} over ${age(first, now)})` : age(last, now);
      return [lastSeen, o.type ?? "", o.reason ?? "", eventObject(o), o.involvedObject?.fieldPath ?? "", `${o.source?.component ?? ""}, ${o.source?.host ?? ""}`, String(o.message ?? "").trim(), age(first, now), count, o.metadata.name];
    },
  },
};

const DEFAULT_PRINTER: Printer = { columns: [NAME, AGE], row: (o, now) => [o.metadata.name, age(o.metadata.creationTimestamp, now)] };

export function columnsFor(key: string): Column[] {
  return (PRINTERS[key] ?? DEFAULT_PRINTER).columns;
}

export function partialMetadata(o: KObject): object {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
}

export function tableRow(key: string, o: KObject, include: IncludeObject, now = Date.now()): TableRow {
  const row: TableRow = { cells: (PRINTERS[key] ?? DEFAULT_PRINTER).row(o as Obj, now) };
  if (include === "Metadata") row.object = partialMetadata(o);
  else if (include === "Object") row.object = o;
  return row;
}

export function table(key: string, objects: KObject[], listMeta: Record<string, unknown>, include: IncludeObject, now = Date.now()): object {
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: listMeta,
    columnDefinitions: columnsFor(key),
    rows: objects.map((o) => tableRow(key, o, include, now)),
  };
}

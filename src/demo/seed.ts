// The objects a fresh demo cluster holds: namespaces, nodes, pods, services,
// configmaps, secrets, events and deployments, aged so `kubectl get` shows real-looking AGEs.
import { createHash } from "node:crypto";
import { FAILURE_NAMESPACES } from "./failure-namespaces.js";
import type { KObject } from "./kobject.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** The system namespaces, then the failure namespaces the seed creates (failure-namespaces.ts). */
export const NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease", ...FAILURE_NAMESPACES.filter((f) => f.seed !== "none").map((f) => f.namespace)];

function ts(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** A stable uid from a name, so seeded objects look alike across starts. */
function uid(s: string): string {
  const h = createHash("sha1").update(s).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function meta(kind: string, name: string, namespace: string | undefined, created: number, extra: Record<string, unknown> = {}): KObject["metadata"] {
  return { name, ...(namespace ? { namespace } : {}), uid: uid(`${kind}/${namespace}/${name}`), creationTimestamp: ts(created), ...extra };
}

interface PodSpec {
  name: string;
  ns: string;
  app: string;
  image: string;
  ip: string;
  node: string;
  age: number;
  restarts?: number;
  lastRestartAgo?: number;
  owner?: { kind: string; name: string };
}

function pod(now: number, p: PodSpec): KObject {
  const created = now - p.age;
  const status: Record<string, unknown> = {
    name: p.app,
    state: { running: { startedAt: ts(created + 5000) } },
    ready: true,
    restartCount: p.restarts ?? 0,
    image: p.image,
    imageID: `docker.io/library/${p.image}@sha256:${createHash("sha256").update(p.image).digest("hex")}`,
    containerID: `containerd://${createHash("sha256").update(p.name).digest("hex")}`,
    started: true,
  };
  if (p.restarts && p.lastRestartAgo) {
    const fin = now - p.lastRestartAgo;
    status.state = { running: { startedAt: ts(fin + 1000) } };
    status.lastState = { terminated: { exitCode: 137, reason: "OOMKilled", startedAt: ts(fin - HOUR), finishedAt: ts(fin), containerID: status.containerID } };
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: meta("Pod", p.name, p.ns, created, {
      labels: { app: p.app },
      ...(p.owner ? { ownerReferences: [{ apiVersion: "apps/v1", kind: p.owner.kind, name: p.owner.name, uid: uid(p.owner.name), controller: true, blockOwnerDeletion: true }] } : {}),
    }),
    spec: {
      containers: [{ name: p.app, image: p.image, ports: [{ containerPort: 80, protocol: "TCP" }], resources: {}, terminationMessagePath: "/dev/termination-log", terminationMessagePolicy: "File", imagePullPolicy: "IfNotPresent" }],
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      serviceAccountName: "default",
      serviceAccount: "default",
      nodeName: p.node,
      securityContext: {},
      schedulerName: "default-scheduler",
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: "PreemptLowerPriority",
    },
    status: {
      phase: "Running",
      conditions: [
        { type: "PodReadyToStartContainers", status: "True", lastProbeTime: null, lastTransitionTime: ts(created + 4000) },
        { type: "Initialized", status: "True", lastProbeTime: null, lastTransitionTime: ts(created + 1000) },
        { type: "Ready", status: "True", lastProbeTime: null, lastTransitionTime: ts(created + 6000) },
        { type: "ContainersReady", status: "True", lastProbeTime: null, lastTransitionTime: ts(created + 6000) },
        { type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: ts(created) },
      ],
      hostIP: p.node === "demo-control-plane" ? "172.18.0.2" : "172.18.0.3",
      hostIPs: [{ ip: p.node === "demo-control-plane" ? "172.18.0.2" : "172.18.0.3" }],
      podIP: p.ip,
      podIPs: [{ ip: p.ip }],
      startTime: ts(created + 1000),
      containerStatuses: [status],
      qosClass: "BestEffort",
    },
  };
}

function node(now: number, name: string, ip: string, controlPlane: boolean): KObject {
  const labels: Record<string, string> = {
    "beta.kubernetes.io/arch": "amd64",
    "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    "kubernetes.io/hostname": name,
    "kubernetes.io/os": "linux",
  };
  if (controlPlane) labels["node-role.kubernetes.io/control-plane"] = "";
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: meta("Node", name, undefined, now - 12 * DAY, { labels }),
    spec: { podCIDR: controlPlane ? "10.244.0.0/24" : "10.244.1.0/24", providerID: `kind://docker/demo/${name}` },
    status: {
      capacity: { cpu: "4", "ephemeral-storage": "102626232Ki", memory: "16331164Ki", pods: "110" },
      allocatable: { cpu: "4", "ephemeral-storage": "102626232Ki", memory: "16331164Ki", pods: "110" },
      conditions: [
        { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", message: "kubelet has sufficient memory available" },
        { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure", message: "kubelet has no disk pressure" },
        { type: "PIDPressure", status: "False", reason: "KubeletHasSufficientPID", message: "kubelet has sufficient PID available" },
        { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" },
      ],
      addresses: [{ type: "InternalIP", address: ip }, { type: "Hostname", address: name }],
      nodeInfo: {
        machineID: createHash("md5").update(name).digest("hex"),
        systemUUID: uid(name),
        bootID: uid(`boot-${name}`),
        kernelVersion: "6.1.0-18-amd64",
        osImage: "Debian GNU/Linux 12 (bookworm)",
        containerRuntimeVersion: "containerd://1.7.24",
        kubeletVersion: "v1.32.0",
        kubeProxyVersion: "v1.32.0",
        operatingSystem: "linux",
        architecture: "amd64",
      },
    },
  };
}

function service(now: number, name: string, ns: string, clusterIP: string, ports: { port: number; targetPort?: number; nodePort?: number; name?: string }[], selector?: Record<string, string>, type = "ClusterIP", labels?: Record<string, string>): KObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta("Service", name, ns, now - 3 * DAY, labels ? { labels } : {}),
    spec: {
      ports: ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), protocol: "TCP", port: p.port, targetPort: p.targetPort ?? p.port, ...(p.nodePort ? { nodePort: p.nodePort } : {}) })),
      ...(selector ? { selector } : {}),
      clusterIP,
      clusterIPs: [clusterIP],
      type,
      sessionAffinity: "None",
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      internalTrafficPolicy: "Cluster",
    },
    status: { loadBalancer: {} },
  };
}

function configMap(now: number, name: string, ns: string, data: Record<string, string>, age = 3 * DAY): KObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: meta("ConfigMap", name, ns, now - age), data };
}

function secret(now: number, name: string, ns: string, type: string, data: Record<string, string>): KObject {
  const enc = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
  return { apiVersion: "v1", kind: "Secret", metadata: meta("Secret", name, ns, now - 3 * DAY), data: enc, type };
}

function deployment(now: number, name: string, ns: string, app: string, image: string, replicas: number, ready: number): KObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta("Deployment", name, ns, now - 2 * DAY - 3 * HOUR, { generation: 1, labels: { app }, annotations: { "deployment.kubernetes.io/revision": "1" } }),
    spec: {
      replicas,
      selector: { matchLabels: { app } },
      template: { metadata: { labels: { app } }, spec: { containers: [{ name: app, image, resources: {} }], restartPolicy: "Always" } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: {
      observedGeneration: 1,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: ready,
      availableReplicas: ready,
      conditions: [
        { type: "Available", status: ready === replicas ? "True" : "False", reason: ready === replicas ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable", message: ready === replicas ? "Deployment has minimum availability." : "Deployment does not have minimum availability." },
      ],
    },
  };
}

function event(now: number, ns: string, name: string, obj: { kind: string; name: string }, type: string, reason: string, message: string, ago: number, count = 1): KObject {
  const t = ts(now - ago);
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: meta("Event", name, ns, now - ago),
    involvedObject: { kind: obj.kind, namespace: ns, name: obj.name, apiVersion: "v1" },
    reason,
    message,
    source: { component: "kubelet", host: "demo-worker" },
    firstTimestamp: ts(now - ago - (count - 1) * 5 * MIN),
    lastTimestamp: t,
    count,
    type,
    eventTime: null,
    reportingComponent: "kubelet",
    reportingInstance: "demo-worker",
  };
}

export function seedObjects(now: number): { key: string; object: KObject }[] {
  const out: { key: string; object: KObject }[] = [];
  const add = (key: string, object: KObject): void => void out.push({ key, object });
  for (const ns of NAMESPACES) {
    const age = ["default", "kube-system", "kube-public", "kube-node-lease"].includes(ns) ? 12 * DAY : 5 * HOUR;
    add("/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: meta("Namespace", ns, undefined, now - age, { labels: { "kubernetes.io/metadata.name": ns } }), spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } });
    add("/serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: meta("ServiceAccount", "default", ns, now - age) });
  }
  add("/nodes", node(now, "demo-control-plane", "172.18.0.2", true));
  add("/nodes", node(now, "demo-worker", "172.18.0.3", false));

  add("/pods", pod(now, { name: "web-1", ns: "default", app: "web", image: "nginx:1.27", ip: "10.244.1.5", node: "demo-worker", age: 2 * DAY + 3 * HOUR }));
  add("/pods", pod(now, { name: "web-2", ns: "default", app: "web", image: "nginx:1.27", ip: "10.244.1.6", node: "demo-worker", age: 2 * DAY + 3 * HOUR }));
  add("/pods", pod(now, { name: "db-0", ns: "default", app: "db", image: "postgres:16", ip: "10.244.1.7", node: "demo-worker", age: 5 * DAY, restarts: 3, lastRestartAgo: 5 * MIN }));
  add("/pods", pod(now, { name: "coredns-668d6bf9bc-4x2kq", ns: "kube-system", app: "coredns", image: "registry.k8s.io/coredns/coredns:v1.11.3", ip: "10.244.0.2", node: "demo-control-plane", age: 12 * DAY }));
  add("/pods", pod(now, { name: "coredns-668d6bf9bc-9zmtw", ns: "kube-system", app: "coredns", image: "registry.k8s.io/coredns/coredns:v1.11.3", ip: "10.244.0.3", node: "demo-control-plane", age: 12 * DAY }));
  add("/pods", pod(now, { name: "etcd-demo-control-plane", ns: "kube-system", app: "etcd", image: "registry.k8s.io/etcd:3.5.16-0", ip: "172.18.0.2", node: "demo-control-plane", age: 12 * DAY }));
  add("/pods", pod(now, { name: "kube-apiserver-demo-control-plane", ns: "kube-system", app: "kube-apiserver", image: "registry.k8s.io/kube-apiserver:v1.32.0", ip: "172.18.0.2", node: "demo-control-plane", age: 12 * DAY }));
  for (const ns of FAILURE_NAMESPACES.filter((f) => f.seed === "namespace-and-pod").map((f) => f.namespace)) {
    add("/pods", pod(now, { name: `${ns}-0`, ns, app: ns, image: "busybox:1.36", ip: "10.244.1.20", node: "demo-worker", age: 5 * HOUR }));
  }

  add("/services", service(now, "kubernetes", "default", "10.96.0.1", [{ name: "https", port: 443, targetPort: 6443 }], undefined, "ClusterIP", { component: "apiserver", provider: "kubernetes" }));
  add("/services", service(now, "web", "default", "10.96.112.40", [{ port: 80 }], { app: "web" }));
  add("/services", service(now, "db", "default", "10.96.201.7", [{ port: 5432, nodePort: 30432 }], { app: "db" }, "NodePort"));
  add("/services", service(now, "kube-dns", "kube-system", "10.96.0.10", [{ name: "dns", port: 53 }, { name: "dns-tcp", port: 53 }, { name: "metrics", port: 9153 }], { "k8s-app": "kube-dns" }));

  for (const ns of NAMESPACES) add("/configmaps", configMap(now, "kube-root-ca.crt", ns, { "ca.crt": "-----BEGIN CERTIFICATE-----\nMIIDemo\n-----END CERTIFICATE-----\n" }, ns.match(/^(default|kube-)/) ? 12 * DAY : 5 * HOUR));
  add("/configmaps", configMap(now, "web-config", "default", { "nginx.conf": "server { listen 80; }\n", LOG_LEVEL: "info" }));
  add("/configmaps", configMap(now, "coredns", "kube-system", { Corefile: ".:53 {\n    errors\n    health\n    kubernetes cluster.local in-addr.arpa ip6.arpa\n    forward . /etc/resolv.conf\n    cache 30\n}\n" }, 12 * DAY));

  add("/secrets", secret(now, "db-credentials", "default", "Opaque", { username: "postgres", password: "s3cr3t-demo" }));
  add("/secrets", secret(now, "web-tls", "default", "kubernetes.io/tls", { "tls.crt": "-----BEGIN CERTIFICATE-----\nMIIDemo\n-----END CERTIFICATE-----\n", "tls.key": "-----BEGIN PRIVATE KEY-----\nMIIDemo\n-----END PRIVATE KEY-----\n" }));

  add("apps/deployments", deployment(now, "web", "default", "web", "nginx:1.27", 2, 2));
  add("apps/deployments", deployment(now, "coredns", "kube-system", "coredns", "registry.k8s.io/coredns/coredns:v1.11.3", 2, 2));

  add("/events", event(now, "default", "db-0.17f2a3b4c5d6e7f8", { kind: "Pod", name: "db-0" }, "Warning", "BackOff", "Back-off restarting failed container db in pod db-0_default(" + uid("Pod/default/db-0") + ")", 5 * MIN, 3));
  add("/events", event(now, "default", "web-1.17f2a3b4c5d6e7f9", { kind: "Pod", name: "web-1" }, "Normal", "Pulled", 'Container image "nginx:1.27" already present on machine', 51 * HOUR));
  return out;
}

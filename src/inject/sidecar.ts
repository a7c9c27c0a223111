// What `kubewire inject` adds to a pod: the kubewire sidecar (first, with a postStart hook that
// holds the app containers until the kubeconfig exists), two emptyDirs (the shared kubeconfig and CA;
// the sidecar's own recording), and KUBECONFIG plus a read-only mount for each app container.

/** Ends every line inject adds; --uninject removes exactly the lines that carry it. */
export const MARKER = "# kubewire-inject";
/** The annotation on the pod template listing what was added. */
export const ANNOTATION = "kubewire.dev/inject";
export const SIDECAR_NAME = "kubewire";
export const SHARED_VOLUME = "kubewire-shared";
export const DATA_VOLUME = "kubewire-data";
export const SHARED_DIR = "/var/run/kubewire";
export const DATA_DIR = "/var/lib/kubewire";
export const KUBECONFIG_PATH = `${SHARED_DIR}/kubeconfig`;

export interface SidecarOptions {
  image: string;
  /** --max-db-size for the sidecar (default 256MiB) */
  maxDbSize: string;
  /** --capture-for for the sidecar (default 24h) */
  captureFor: string;
}

export const DEFAULT_SIDECAR: SidecarOptions = { image: "kubewire:dev", maxDbSize: "256MiB", captureFor: "24h" };

const q = (s: string) => JSON.stringify(s);

/** The sidecar as block-YAML lines relative to a sequence item at column 0 ("- name: ..."). */
export function sidecarLines(o: SidecarOptions): string[] {
  const args = ["start", "--in-cluster", "--listen", "127.0.0.1:18443", "--shared-dir", SHARED_DIR, "--state-dir", DATA_DIR, "--db", `${DATA_DIR}/kubewire.db`, "--max-db-size", o.maxDbSize, "--capture-for", o.captureFor];
  return [
    `- name: ${SIDECAR_NAME}`,
    `  image: ${q(o.image)}`,
    `  args: [${args.map(q).join(", ")}]`,
    "  lifecycle:",
    "    postStart:",
    "      exec:",
    `        command: ["sh", "-c", ${q(`until [ -s ${KUBECONFIG_PATH} ]; do sleep 0.2; done`)}]`,
    "  securityContext:",
    "    allowPrivilegeEscalation: false",
    "    readOnlyRootFilesystem: true",
    "  volumeMounts:",
    `  - name: ${SHARED_VOLUME}`,
    `    mountPath: ${SHARED_DIR}`,
    `  - name: ${DATA_VOLUME}`,
    `    mountPath: ${DATA_DIR}`,
  ];
}

export function volumeLines(): string[] {
  return [`- name: ${SHARED_VOLUME}`, "  emptyDir: {}", `- name: ${DATA_VOLUME}`, "  emptyDir: {}"];
}

export function envLines(): string[] {
  return ["- name: KUBECONFIG", `  value: ${q(KUBECONFIG_PATH)}`];
}

export function mountLines(): string[] {
  return [`- name: ${SHARED_VOLUME}`, `  mountPath: ${SHARED_DIR}`, "  readOnly: true"];
}

// Which kinds carry a Pod template, and where: the path to the pod's metadata and spec for each
// workload kind `kubewire inject` changes (every other kind passes through untouched).

/** kind → path of the pod template (the object holding metadata and spec), [] for a Pod itself */
export const POD_TEMPLATE_PATHS: Record<string, string[]> = {
  Pod: [],
  Deployment: ["spec", "template"],
  StatefulSet: ["spec", "template"],
  DaemonSet: ["spec", "template"],
  ReplicaSet: ["spec", "template"],
  ReplicationController: ["spec", "template"],
  Job: ["spec", "template"],
  CronJob: ["spec", "jobTemplate", "spec", "template"],
};

export function templatePathOf(kind: unknown): string[] | null {
  return typeof kind === "string" && Object.hasOwn(POD_TEMPLATE_PATHS, kind) ? POD_TEMPLATE_PATHS[kind] : null;
}

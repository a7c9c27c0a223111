// `kubewire inject` over real-world manifests: the sidecar, volumes and KUBECONFIG land where the
// kubelet reads them, kubectl's client-side dry run accepts the output, and --uninject gives the input back byte for byte.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { injectText, uninjectText } from "../src/inject/inject.js";
import { demoWorld, KUBECTL, ROOT, type Run, type World } from "./helpers/world.js";

const FIXTURES = join(ROOT, "test/fixtures/inject");
const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith(".yaml")).sort();
const read = (f: string) => readFileSync(join(FIXTURES, f), "utf8");

/** A command with text on its standard input. */
function pipe(cmd: string, args: string[], input: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, NO_COLOR: "1", ...env }, cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}
const kubewire = (args: string[], input: string) => pipe(process.execPath, [join(ROOT, "bin/kubewire.js"), ...args], input);

type Obj = Record<string, any>;
const podOf = (o: Obj): Obj => (o.kind === "Pod" ? o : o.kind === "CronJob" ? o.spec.jobTemplate.spec.template : o.spec.template);

describe("kubewire inject", () => {
  it.each(fixtures)("adds the sidecar, the shared volumes and KUBECONFIG to every workload of %s, and leaves the rest alone", (file) => {
    const input = read(file);
    const before = parseAllDocuments(input).map((d) => d.toJS() as Obj);
    const after = parseAllDocuments(injectText(input).text).map((d) => d.toJS() as Obj);
    expect(after).toHaveLength(before.length);
    after.forEach((obj, i) => {
      const orig = before[i];
      if (!["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"].includes(orig.kind)) {
        expect(obj).toEqual(orig);
        return;
      }
      const pod = podOf(obj);
      const was = podOf(orig);
      expect(pod.spec.containers[0]).toMatchObject({ name: "kubewire", image: "kubewire:dev" });
      expect(pod.spec.containers[0].args).toEqual(expect.arrayContaining(["start", "--in-cluster", "--shared-dir", "/var/run/kubewire"]));
      expect(pod.spec.containers.slice(1).map((c: Obj) => c.name)).toEqual(was.spec.containers.map((c: Obj) => c.name));
      for (const [j, c] of pod.spec.containers.slice(1).entries()) {
        const w = was.spec.containers[j];
        expect(c.env).toEqual([...(w.env ?? []), { name: "KUBECONFIG", value: "/var/run/kubewire/kubeconfig" }]);
        expect(c.volumeMounts).toEqual([...(w.volumeMounts ?? []), { name: "kubewire-shared", mountPath: "/var/run/kubewire", readOnly: true }]);
        expect({ ...c, env: undefined, volumeMounts: undefined }).toEqual({ ...w, env: undefined, volumeMounts: undefined });
      }
      expect(pod.spec.initContainers).toEqual(was.spec.initContainers);
      expect(pod.spec.volumes).toEqual([...(was.spec.volumes ?? []), { name: "kubewire-shared", emptyDir: {} }, { name: "kubewire-data", emptyDir: {} }]);
      expect(pod.metadata.annotations["kubewire.dev/inject"]).toMatch(/^container=kubewire;volumes=kubewire-shared,kubewire-data;env=/);
      expect({ ...pod.metadata?.annotations, "kubewire.dev/inject": undefined }).toEqual({ ...was.metadata?.annotations, "kubewire.dev/inject": undefined });
    });
  });

  it.each(fixtures)("keeps every byte of %s it did not add, comments included, and --uninject gives the input back", (file) => {
    const input = read(file);
    const out = injectText(input).text;
    const added = out.split("\n").filter((l) => l.endsWith(" # kubewire-inject"));
    expect(added.length).toBeGreaterThan(10);
    expect(out.split("\n").filter((l) => !l.endsWith(" # kubewire-inject")).join("\n")).toBe(input);
    expect(uninjectText(out).text).toBe(input);
  });

  it("leaves an already injected workload as it is, with a note", () => {
    const once = injectText(read("operator.yaml")).text;
    const twice = injectText(once);
    expect(twice.text).toBe(once);
    expect(twice.notes).toEqual([{ object: "Deployment/shop-operator", message: "already injected: left as it is" }]);
  });

  it("takes the image from --image and leaves a container that sets KUBECONFIG itself alone", () => {
    const input = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: x\n    env:\n    - name: KUBECONFIG\n      value: /etc/kube/config\n  - name: b\n    image: y\n";
    const r = injectText(input, { image: "registry.example/kubewire:1.0" });
    const pod = parseAllDocuments(r.text)[0].toJS() as Obj;
    expect(pod.spec.containers[0].image).toBe("registry.example/kubewire:1.0");
    expect(pod.spec.containers[1].env).toEqual([{ name: "KUBECONFIG", value: "/etc/kube/config" }]);
    expect(pod.spec.containers[2].env).toEqual([{ name: "KUBECONFIG", value: "/var/run/kubewire/kubeconfig" }]);
    expect(r.notes[0].message).toBe('container "a" sets KUBECONFIG itself: left as it is (it will not go through kubewire)');
  });

  it("refuses flow-style containers with one line naming the object", () => {
    expect(() => injectText('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x"}]}}')).toThrow("Pod/p: the manifest is not a block mapping (flow style or JSON); kubewire inject edits block YAML only");
  });

  describe.skipIf(!existsSync(KUBECTL))("with kubectl", () => {
    let world: World;
    beforeAll(async () => {
      world = await demoWorld();
    });
    afterAll(async () => {
      await world?.close();
    });

    it.each(fixtures)("pipes %s through the CLI: kubectl apply --dry-run=client accepts it, and inject | inject --uninject is the input", async (file) => {
      const input = read(file);
      const injected = await kubewire(["inject", "-f", join(FIXTURES, file)], "");
      expect(injected.stderr).toBe("");
      expect(injected.code).toBe(0);
      const applied = await pipe(KUBECTL, ["--kubeconfig", world.kubeconfig, "--cache-dir", join(world.dir, "cache"), "apply", "--dry-run=client", "--validate=false", "-f", "-"], injected.stdout);
      expect(applied.stderr).toBe("");
      expect(applied.code).toBe(0);
      const kinds = parseAllDocuments(input).map((d) => String(d.get("kind")).toLowerCase());
      expect(applied.stdout.trim().split("\n")).toHaveLength(kinds.length);
      for (const line of applied.stdout.trim().split("\n")) expect(line).toMatch(/ created \(dry run\)$/);
      const back = await kubewire(["inject", "--uninject"], injected.stdout);
      expect(back.stdout).toBe(input);
    });
  });
});

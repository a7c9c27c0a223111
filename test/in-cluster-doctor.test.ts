// `kubewire doctor --in-cluster` connects with what InClusterConfig reads: TLS to the service
// address verified by ca.crt, then a SelfSubjectReview with the token, against the demo cluster.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inCluster } from "../src/doctor/in-cluster.js";
import type { DoctorContext } from "../src/doctor/lib/step.js";
import { makeCa } from "../src/tls/cert-factory.js";
import { demoWorld, type World } from "./helpers/world.js";

describe("kubewire doctor --in-cluster in a simulated pod", () => {
  let world: World;
  let saDir: string;
  let env: NodeJS.ProcessEnv;
  const context = (): DoctorContext => ({ opts: { can: [], timeoutMs: 5000, inCluster: true, env, serviceAccountDir: saDir, warn: () => undefined }, files: [], configs: [], namespace: "default" });
  const byName = async () => Object.fromEntries((await inCluster.run(context())).checks.map((c) => [c.name, c]));

  beforeAll(async () => {
    world = await demoWorld();
    saDir = join(world.dir, "serviceaccount");
    mkdirSync(saDir);
    writeFileSync(join(saDir, "token"), world.cluster.users.serviceAccount.token!);
    writeFileSync(join(saDir, "namespace"), "apps");
    const address = new URL(world.cluster.url);
    env = { KUBERNETES_SERVICE_HOST: address.hostname, KUBERNETES_SERVICE_PORT: address.port };
  });
  afterAll(async () => {
    await world?.close();
  });

  it("connects with the cluster CA and reports the service account the API server sees", async () => {
    writeFileSync(join(saDir, "ca.crt"), world.cluster.caPem);
    const by = await byName();
    expect(by.connect).toMatchObject({ status: "pass", detail: expect.stringMatching(/^TLS to https:\/\/127\.0\.0\.1:\d+ verified with ca\.crt \(TLSv1\.3\)$/) });
    expect(by.identity).toMatchObject({ status: "pass", detail: "the API server knows the token as system:serviceaccount:apps:operator" });
  });

  it("fails clearly when ca.crt is not the CA that signed the API server's certificate", async () => {
    writeFileSync(join(saDir, "ca.crt"), makeCa({ commonName: "some-other-cluster" }).certPem);
    const by = await byName();
    expect(by["ca.crt"].status).toBe("pass");
    expect(by.connect.status).toBe("fail");
    expect(by.connect.detail).toMatch(/^TLS to https:\/\/127\.0\.0\.1:\d+ with ca\.crt: x509: certificate signed by unknown authority \(/);
    expect(by.connect.fix).toContain("kube-root-ca.crt");
    expect(by.identity).toBeUndefined();
  });

  it("fails the identity check for a token the API server does not know", async () => {
    writeFileSync(join(saDir, "ca.crt"), world.cluster.caPem);
    writeFileSync(join(saDir, "token"), world.cluster.users.badToken.token!);
    const by = await byName();
    expect(by.connect.status).toBe("pass");
    expect(by.identity).toMatchObject({ status: "fail", detail: "the API server refused the service account token (401 Unauthorized)" });
    writeFileSync(join(saDir, "token"), world.cluster.users.serviceAccount.token!);
  });
});

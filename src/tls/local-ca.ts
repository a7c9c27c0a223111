// The local certificate authority that clients trust through the generated kubeconfig:
// made once per state directory (key 0600), and the serving certificate for localhost.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { makeCa, makeLeaf, type KeyPair } from "./cert-factory.js";

export interface LocalCa {
  ca: KeyPair;
  server: KeyPair;
}

const DAY = 24 * 3600 * 1000;

function readPair(certFile: string, keyFile: string): KeyPair | null {
  if (!existsSync(certFile) || !existsSync(keyFile)) return null;
  return { certPem: readFileSync(certFile, "utf8"), keyPem: readFileSync(keyFile, "utf8") };
}

function writePair(pair: KeyPair, certFile: string, keyFile: string): void {
  writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  writeFileSync(certFile, pair.certPem, { mode: 0o644 });
}

function validFor(pair: KeyPair, ms: number, issuer?: KeyPair): boolean {
  try {
    const cert = new X509Certificate(pair.certPem);
    if (Date.parse(cert.validTo) - Date.now() < ms) return false;
    return issuer ? cert.verify(new X509Certificate(issuer.certPem).publicKey) : true;
  } catch {
    return false;
  }
}

/** Loads the CA and serving certificate from `dir`, making (or renewing) them when needed. */
export function loadLocalCa(dir: string): LocalCa {
  const caCert = join(dir, "ca.crt");
  const caKey = join(dir, "ca.key");
  let ca = readPair(caCert, caKey);
  if (!ca || !validFor(ca, 30 * DAY)) {
    ca = makeCa({ commonName: "kubewire local CA", organization: "kubewire", days: 3650 });
    writePair(ca, caCert, caKey);
  }
  const srvCert = join(dir, "server.crt");
  const srvKey = join(dir, "server.key");
  let server = readPair(srvCert, srvKey);
  if (!server || !validFor(server, 7 * DAY, ca)) {
    server = makeLeaf(ca, { commonName: "kubewire", altNames: ["localhost", "127.0.0.1", "::1"], days: 397 });
    writePair(server, srvCert, srvKey);
  }
  return { ca, server };
}

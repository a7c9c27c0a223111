// The demo cluster's certificates: its CA, the healthy serving cert, the deliberately
// broken ones (expired, not yet valid, wrong SAN, unknown CA, self-signed) and the client cert.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";
import { makeCa, makeLeaf, type KeyPair } from "../tls/cert-factory.js";

export interface DemoCerts {
  ca: KeyPair;
  server: KeyPair;
  expired: KeyPair;
  notYetValid: KeyPair;
  wrongSan: KeyPair;
  otherCa: KeyPair;
  unknownCa: KeyPair;
  selfSigned: KeyPair;
  client: KeyPair;
}

const DAY = 24 * 3600 * 1000;
const LOCAL = ["127.0.0.1", "localhost", "::1"];

/** A self-signed leaf (not a CA): subject and issuer are the same, signed by its own key. */
function selfSignedLeaf(commonName: string, altNames: string[]): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = "01" + randomBytes(15).toString("hex");
  cert.validity.notBefore = new Date(Date.now() - DAY);
  cert.validity.notAfter = new Date(Date.now() + 365 * DAY);
  const attrs = [{ name: "commonName", value: commonName }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames: altNames.map((n) => (/^[\d.:]+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey };
}

function makeAll(): DemoCerts {
  const now = Date.now();
  const ca = makeCa({ commonName: "kubernetes" });
  const otherCa = makeCa({ commonName: "other-ca" });
  return {
    ca,
    server: makeLeaf(ca, { commonName: "kube-apiserver", altNames: [...LOCAL, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "10.96.0.1"] }),
    expired: makeLeaf(ca, { commonName: "kube-apiserver", altNames: LOCAL, notBefore: new Date(now - 366 * DAY), notAfter: new Date(now - DAY) }),
    notYetValid: makeLeaf(ca, { commonName: "kube-apiserver", altNames: LOCAL, notBefore: new Date(now + DAY), notAfter: new Date(now + 366 * DAY) }),
    wrongSan: makeLeaf(ca, { commonName: "kube-apiserver", altNames: ["kubernetes.default.svc", "10.96.0.1"] }),
    otherCa,
    unknownCa: makeLeaf(otherCa, { commonName: "kube-apiserver", altNames: LOCAL }),
    selfSigned: selfSignedLeaf("kube-apiserver", LOCAL),
    client: makeLeaf(ca, { commonName: "cert-user", organization: "system:masters", client: true }),
  };
}

let cached: DemoCerts | undefined;

/**
 * The certificates, made once per process: RSA key generation is the slowest part of a
 * start (about 0.1 s a key), and tests start many clusters. Validity is relative to the
 * first call, which stays correct ("expired yesterday") for any test run.
 */
export function demoCerts(): DemoCerts {
  cached ??= makeAll();
  return cached;
}

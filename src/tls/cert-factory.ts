// Makes X.509 certificates with node-forge: certificate authorities and leaf
// certificates with chosen names and validity (including deliberately broken ones).
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { createRequire } from "node:module";
import type Forge from "node-forge";

/** node-forge, loaded when a certificate is made (once per state directory), not on every start. */
let loaded: typeof Forge | null = null;
const forge = (): typeof Forge => (loaded ??= createRequire(import.meta.url)("node-forge") as typeof Forge);

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface CertOptions {
  commonName: string;
  /** DNS names and IP addresses for subjectAltName */
  altNames?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** days of validity from now when notAfter is not given (default 825) */
  days?: number;
  organization?: string;
  /** client-auth usage instead of server-auth (for client certificates) */
  client?: boolean;
}

function newKeys(): { publicKey: Forge.pki.PublicKey; privateKey: Forge.pki.PrivateKey; keyPem: string } {
  // Node's key generation is native and fast; forge's pure-JS RSA takes seconds.
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return {
    publicKey: forge().pki.publicKeyFromPem(publicKey),
    privateKey: forge().pki.privateKeyFromPem(privateKey),
    keyPem: privateKey,
  };
}

function validity(cert: Forge.pki.Certificate, opts: CertOptions): void {
  const now = Date.now();
  cert.validity.notBefore = opts.notBefore ?? new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = opts.notAfter ?? new Date(now + (opts.days ?? 825) * 24 * 3600 * 1000);
  cert.serialNumber = "01" + randomBytes(15).toString("hex");
}

function subject(opts: CertOptions): Forge.pki.CertificateField[] {
  const attrs: Forge.pki.CertificateField[] = [{ name: "commonName", value: opts.commonName }];
  if (opts.organization) attrs.push({ name: "organizationName", value: opts.organization });
  return attrs;
}

/** A self-signed certificate authority. */
export function makeCa(opts: CertOptions): KeyPair {
  const keys = newKeys();
  const cert = forge().pki.createCertificate();
  cert.publicKey = keys.publicKey;
  validity(cert, { days: 3650, ...opts });
  cert.setSubject(subject(opts));
  cert.setIssuer(subject(opts));
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey as Forge.pki.rsa.PrivateKey, forge().md.sha256.create());
  return { certPem: forge().pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** A leaf certificate signed by the given CA. */
export function makeLeaf(ca: KeyPair, opts: CertOptions): KeyPair {
  const keys = newKeys();
  const caCert = forge().pki.certificateFromPem(ca.certPem);
  const caKey = forge().pki.privateKeyFromPem(ca.keyPem);
  const cert = forge().pki.createCertificate();
  cert.publicKey = keys.publicKey;
  validity(cert, opts);
  cert.setSubject(subject(opts));
  cert.setIssuer(caCert.subject.attributes);
  const altNames = (opts.altNames ?? []).map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n }));
  const extensions: object[] = [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    opts.client ? { name: "extKeyUsage", clientAuth: true } : { name: "extKeyUsage", serverAuth: true },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (altNames.length > 0) extensions.push({ name: "subjectAltName", altNames });
  cert.setExtensions(extensions);
  cert.sign(caKey as Forge.pki.rsa.PrivateKey, forge().md.sha256.create());
  return { certPem: forge().pki.certificateToPem(cert), keyPem: keys.keyPem };
}

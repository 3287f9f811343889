/** Certificate helpers for the Cloud API simulator (metadata the Cloud service generates for certificates). */
import { X509Certificate } from 'node:crypto';

const PEM_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Split a PEM bundle into single certificates (each parsed, so a malformed one throws). */
export function splitPemBundle(pem: string): string[] {
  const blocks = pem.match(PEM_RE) ?? [];
  return blocks.map((b) => {
    new X509Certificate(b); // throws on malformed input
    return `${b.trim()}\n`;
  });
}

export interface CertificateMetadata {
  fingerprint: string;
  valid_from: string;
  valid_to: string;
  also_trusted_by?: string[];
}

/**
 * `CertificateMetaData` as the Cloud API reports it. The exact fingerprint format Elastic Cloud uses is UNCONFIRMED;
 * the sandbox reports the SHA-256 fingerprint in lowercase hex without separators (the form `_ssl/certificates`-style
 * comparisons are easiest with), kept in this one function.
 */
export function certificateMetadata(pem: string): CertificateMetadata {
  const cert = new X509Certificate(pem);
  return {
    fingerprint: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
    valid_from: new Date(cert.validFrom).toISOString(),
    valid_to: new Date(cert.validTo).toISOString(),
  };
}

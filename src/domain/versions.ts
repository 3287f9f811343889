/** Version rules of the domain page §3, in one place. */
export function parseVersion(v: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
  if (!m) return [0, 0, 0];
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

export function atLeast(v: string, min: string): boolean {
  const a = parseVersion(v);
  const b = parseVersion(min);
  for (let i = 0; i < 3; i++) {
    if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) > (b[i] as number);
  }
  return true;
}

/** API-key model: both sides 8.14+. */
export const API_KEY_MODEL_MIN_VERSION = '8.14.0';
/** ECH reloads new remote-cluster credentials from its keystore without a restart from 8.14. */
export const KEYSTORE_AUTO_RELOAD_VERSION = '8.14.0';
/** Licenses that include `advanced-remote-cluster-security` (operation mode ENTERPRISE). */
export const API_KEY_MODEL_LICENSES = ['enterprise', 'trial'];

/** The TLS-certificate model is deprecated from this version on (either side). */
export const TLS_MODEL_DEPRECATED_VERSION = '9.0.0';

/**
 * Transport wire compatibility of the TLS-certificate model (domain §3): the same major always; 7.17 ↔ 8.x but not
 * 9.x; 8.18 ↔ 9.0 but not 9.1+; 8.19 ↔ 9.x.
 */
export function transportCompatible(a: string, b: string): boolean {
  const [older, newer] = atLeast(a, b) ? [b, a] : [a, b];
  const [oMajor] = parseVersion(older);
  const [nMajor, nMinor] = parseVersion(newer);
  if (oMajor === nMajor) return true;
  if (nMajor - oMajor !== 1) return false;
  if (nMajor === 8) return atLeast(older, '7.17.0');
  if (nMajor === 9) return atLeast(older, nMinor === 0 ? '8.18.0' : '8.19.0');
  return false;
}

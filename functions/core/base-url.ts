/**
 * The one rule for API and authorisation base URLs (the CLI's flags, config file and
 * remembered address; the CDK context applies the same rule): https, or plain http only to a
 * loopback host (the local simulator). A bearer token or client secret never travels in
 * clear text across a network.
 */
import { isIP } from 'node:net';

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** Undefined when `raw` is an acceptable base URL, else the reason. */
export function baseUrlProblem(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'must be an https URL';
  }
  if (u.username || u.password) return 'must not carry credentials';
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:') {
    return isLoopbackHost(u.hostname) ? undefined : 'plain http is allowed only on loopback';
  }
  return 'must be an https URL';
}

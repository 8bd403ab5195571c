/**
 * Admin keys from the config (ADMIN_API_KEY): headless operators valid on every tenant. Several may be
 * listed so one can be rotated in before the old one is removed. Refused at start when short or a
 * placeholder, since a guessable admin key is worse than none.
 */
import { StartupError } from '../errors.ts'
import { type Principal, sharedPrincipal } from './principal.ts'
import { digestsEqual, sha256Hex } from './secrets.ts'

const MIN_LENGTH = 32
const PLACEHOLDER = /change.?me|example|placeholder|secret|password|your.?key|^(.)\1+$|^x+$/i

export function parseAdminKeys(value: string): string[] {
  const keys = value
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
  for (const [i, key] of keys.entries()) {
    if (key.length < MIN_LENGTH) {
      throw new StartupError(`auth.admin_api_keys: key ${i + 1} is ${key.length} characters; use at least ${MIN_LENGTH} random characters`)
    }
    if (PLACEHOLDER.test(key)) throw new StartupError(`auth.admin_api_keys: key ${i + 1} looks like a placeholder; generate a random one`)
  }
  return keys
}

/**
 * Matches the digest of a presented key (sha256Hex) against the admin keys' digests, worked out once
 * here: the key strategy digests what it was given once, for this check and for the API keys' lookup.
 */
export function adminKeyMatcher(keys: string[]): (presentedDigest: string) => Principal | null {
  const digests = keys.map(sha256Hex)
  const principals = keys.map((_, i) => sharedPrincipal({ kind: 'admin', id: `admin:${i + 1}`, tenantId: null, scopes: ['*'] }))
  return (presentedDigest) => {
    // Compare against every key, so the time taken says nothing about which one (if any) matched.
    let matched = -1
    for (let i = 0; i < digests.length; i++) if (digestsEqual(presentedDigest, digests[i]!)) matched = i
    return matched < 0 ? null : principals[matched]!
  }
}

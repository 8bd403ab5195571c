/** Bearer secrets: 256 bits from the CSPRNG, stored only as SHA-256, compared in constant time. */
import { randomBytes } from 'node:crypto'

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

/**
 * Every request a key or a session signs digests its secret once, so this is Bun's one-call SHA-256:
 * about a third of what node:crypto's createHash().update().digest() costs for the same digest (three
 * calls, and a Hash object each time).
 */
export function sha256Hex(value: string): string {
  return Bun.SHA256.hash(value, 'hex')
}

/**
 * Whether two digests of sha256Hex are equal, in a time that depends only on their length (fixed for
 * these), not on where they first differ.
 */
export function digestsEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return difference === 0
}

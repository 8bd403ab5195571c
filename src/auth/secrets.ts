/** Bearer secrets: 256 bits from the CSPRNG, stored only as SHA-256, compared in constant time. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

/** Equal-length digests are compared, so neither the length nor the content of a secret leaks through timing. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

/**
 * Metadata, on partners and events, is for the tenant's own references (CRM ids, notes), not a
 * document store: it is stored as JSON text of 16 KB at most.
 */
import { writeJson } from './db/codec.ts'
import { AppError } from './errors.ts'

export const METADATA_MAX_BYTES = 16_384

/** The metadata as stored; 400 `metadata_too_large` past the limit. */
export function metadataText(metadata: Record<string, unknown>): string {
  const text = writeJson(metadata)
  if (Buffer.byteLength(text) > METADATA_MAX_BYTES) {
    throw new AppError(400, 'metadata_too_large', `metadata is limited to ${METADATA_MAX_BYTES} bytes of JSON`)
  }
  return text
}

/**
 * What the delivery log keeps of a receiver's answer: its first bytes as text, read no further than
 * that, whatever the answer's length.
 */
/** How much of a receiver's answer the delivery log keeps; the rest is not read. */
export const RESPONSE_EXCERPT_BYTES = 512

/** Past this declared length an answer is read only as far as the excerpt; below it, read whole at once. */
const WHOLE_ANSWER_BYTES = 64 * 1024
const utf8 = new TextDecoder('utf-8', { fatal: false })

/**
 * The first bytes of an answer as text (no NUL, which PostgreSQL cannot store), the rest left unread.
 * Most receivers answer a few bytes with a Content-Length: those are read in one call, which costs
 * half as much as a reader's chunks (measured); an answer of unknown or large length is read chunk
 * by chunk only as far as the excerpt.
 */
export async function responseExcerpt(response: Response): Promise<string | null> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  let bytes: Uint8Array
  if (declared <= WHOLE_ANSWER_BYTES) {
    try {
      bytes = new Uint8Array(await response.arrayBuffer()).subarray(0, RESPONSE_EXCERPT_BYTES)
    } catch {
      // An answer cut off is still an answer; its excerpt is empty.
      bytes = new Uint8Array()
    }
  } else bytes = await firstBytes(response)
  const text = utf8.decode(bytes).replaceAll('\u0000', '')
  return text === '' ? null : text
}

async function firstBytes(response: Response): Promise<Uint8Array> {
  const reader = response.body?.getReader()
  if (!reader) return new Uint8Array()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < RESPONSE_EXCERPT_BYTES) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } catch {
    // An answer cut off is still an answer; what came is kept.
  } finally {
    await reader.cancel().catch(() => {})
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES)
}

/**
 * Cursor pagination (`?cursor=&limit=` → `nextCursor`, null on the last page). Rows are ordered by
 * their ULID id, so the cursor is the last id seen, wrapped so clients treat it as opaque.
 */
import { t as T } from 'elysia'
import { AppError } from '../errors.ts'

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 200

/**
 * The query-string schema every paginated route uses. `limit` is checked as digits here and as a range
 * in fetchPage: Elysia's coercion of numeric query values reports errors without the parameter's name.
 */
export const PageQuery = T.Object(
  {
    cursor: T.Optional(T.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
    limit: T.Optional(
      T.String({ pattern: '^[0-9]{1,4}$', description: `page size, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})` }),
    ),
  },
  { additionalProperties: true },
)

export interface PageRequest {
  cursor?: string
  limit?: number | string
}

function pageSize(limit: PageRequest['limit']): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE
  const n = Number(limit)
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
    throw new AppError(400, 'invalid_request', `query.limit: must be an integer from 1 to ${MAX_PAGE_SIZE}`)
  }
  return n
}

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

/**
 * `fetch(afterId, take)` must return up to `take` rows with id > afterId (all rows when undefined),
 * ordered by id. One row more than the page is asked for, to know whether another page follows.
 */
export async function fetchPage<T extends { id: string }>(
  page: PageRequest,
  fetch: (afterId: string | undefined, take: number) => Promise<T[]>,
): Promise<Page<T>> {
  const limit = pageSize(page.limit)
  const rows = await fetch(page.cursor === undefined ? undefined : decodeCursor(page.cursor), limit + 1)
  const items = rows.slice(0, limit)
  return { items, nextCursor: rows.length > limit ? encodeCursor(items[items.length - 1]!.id) : null }
}

function encodeCursor(id: string): string {
  return Buffer.from(`id:${id}`).toString('base64url')
}

function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!decoded.startsWith('id:') || decoded.length < 4 || encodeCursor(decoded.slice(3)) !== cursor) {
    throw new AppError(400, 'invalid_cursor', 'cursor is not one this API returned')
  }
  return decoded.slice(3)
}

/** Every page, for exports and small lists a caller wants whole. */
export async function fetchAll<T>(page: (request: PageRequest) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = []
  let cursor: string | undefined
  do {
    const next = await page({ cursor, limit: MAX_PAGE_SIZE })
    items.push(...next.items)
    cursor = next.nextCursor ?? undefined
  } while (cursor)
  return items
}

/**
 * Cursor pagination (`?cursor=&limit=` → `nextCursor`, null on the last page). Rows are ordered by
 * their ULID id, so the cursor is the last id seen, wrapped so clients treat it as opaque.
 */
import { t as T } from 'elysia'
import { type SelectQueryBuilder, sql } from 'kysely'
import { AppError } from '../errors.ts'
import { OneOf } from '../http/one-of.ts'

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
    order: T.Optional(OneOf(['oldest', 'newest'], { description: 'oldest first (the default of most lists) or newest first' })),
  },
  { additionalProperties: true },
)

export interface PageRequest {
  cursor?: string
  limit?: number | string
  /** `newest` first (ids are ULIDs, so: by id descending) or `oldest`; the list's own order when left out. */
  order?: 'oldest' | 'newest'
}

/** The part of a list one page reads: after which id, how many rows, in which order. */
export interface Slice {
  after: string | undefined
  take: number
  newestFirst: boolean
}

/** Orders a query by its id column in the slice's order and takes the slice's rows after its cursor. */
export function sliced<DB, TB extends keyof DB, O>(q: SelectQueryBuilder<DB, TB, O>, slice: Slice, column = 'id') {
  const id = sql.ref(column)
  const ordered = q.orderBy(id, slice.newestFirst ? 'desc' : 'asc').limit(slice.take)
  return slice.after === undefined ? ordered : ordered.where(id, slice.newestFirst ? '<' : '>', slice.after)
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
 * `fetch(slice)` must return the slice's rows (`sliced` makes a query do so). One row more than the
 * page is asked for, to know whether another page follows. `order` is the list's own order,
 * for a request that does not say.
 */
export async function fetchPage<T extends { id: string }>(
  page: PageRequest,
  fetch: (slice: Slice) => Promise<T[]>,
  { order = 'oldest' }: { order?: PageRequest['order'] } = {},
): Promise<Page<T>> {
  const limit = pageSize(page.limit)
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor)
  const rows = await fetch({ after, take: limit + 1, newestFirst: (page.order ?? order) === 'newest' })
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

/** What several console pages share: links that keep a list's filters, and the names of things. */
import type { TenantScope } from '../../db/with-tenant.ts'
import type { Program } from '../../programs/service.ts'
import type { MemberPage } from '../context.ts'

/** The current page's URL with some query parameters changed (undefined removes one); paging restarts. */
export function urlWith(page: MemberPage, changes: Record<string, string | undefined>): string {
  const url = new URL(page.url)
  if (!('cursor' in changes)) url.searchParams.delete('cursor')
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined || value === '') url.searchParams.delete(name)
    else url.searchParams.set(name, value)
  }
  const query = url.searchParams.toString()
  return url.pathname + (query ? `?${query}` : '')
}

/**
 * A list's order by date: newest first, or oldest with `?sort=oldest`. What the service is asked for,
 * and the table's sort (the date column, named `key`, links to the other direction).
 */
export function dateOrder(page: MemberPage, key: string) {
  const oldest = page.url.searchParams.get('sort') === 'oldest'
  return {
    oldest,
    order: oldest ? ('oldest' as const) : ('newest' as const),
    sort: {
      key,
      descending: !oldest,
      href: (_key: string, descending: boolean) => urlWith(page, { sort: descending ? undefined : 'oldest' }),
    },
  }
}

/** The query parameter, when it is one of the allowed values. */
export function oneOf<const V extends readonly string[]>(page: MemberPage, name: string, values: V): V[number] | undefined {
  const value = page.url.searchParams.get(name) ?? undefined
  return value && (values as readonly string[]).includes(value) ? value : undefined
}

/**
 * Every program, for a select or to name them in a list (a tenant has few), through the page's open
 * transaction; remembered for a few seconds and forgotten by any program's change (console-reads.ts).
 */
export async function allPrograms(page: Pick<MemberPage, 'deps'>, scope: TenantScope): Promise<Program[]> {
  return page.deps.reads.programs(scope)
}

/** A short id to show: `prg_01HX…7K2P` keeps the prefix and the last characters. */
export function shortId(id: string): string {
  return id.length > 14 ? `${id.slice(0, id.indexOf('_') + 5)}…${id.slice(-4)}` : id
}

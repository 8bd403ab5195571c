/**
 * A list as a table: a caption for readers, numbers right-aligned in tabular figures, headers that
 * sort where it makes sense (a link keeping the page's other filters), a checkbox per row for bulk
 * actions, and an id per row so one row can be swapped in place.
 */
import type { ComponentChildren } from 'preact'

export interface Column<T> {
  label: string
  cell: (row: T) => ComponentChildren
  /** A number or amount: right-aligned. */
  num?: boolean
  /** The sort key this column sorts by, when it sorts. */
  sort?: string
  /** Shown to screen readers only (an actions column). */
  hiddenLabel?: boolean
}

export interface TableProps<T> {
  caption: string
  rows: T[]
  columns: Column<T>[]
  rowId?: (row: T) => string
  /** Sorting: the current key and direction, and the URL of a key's sort. */
  sort?: { key: string; descending: boolean; href: (key: string, descending: boolean) => string }
  /** Bulk selection: the checkbox's value for a row (name `ids`), or none for a row that cannot be selected. */
  select?: (row: T) => string | undefined
}

export function DataTable<T>({ caption, rows, columns, rowId, sort, select }: TableProps<T>) {
  return (
    // A region one can scroll by keyboard when the table is wider than the screen.
    <section class="table-wrap" tabindex={0} aria-label={caption}>
      <table class="striped">
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {select && (
              <th scope="col">
                <input type="checkbox" data-select-all aria-label="Select all on this page" />
              </th>
            )}
            {columns.map((c) => {
              const sorted = sort && c.sort === sort.key
              const ariaSort = sorted ? (sort.descending ? 'descending' : 'ascending') : undefined
              return (
                <th scope="col" class={c.num ? 'num' : undefined} aria-sort={ariaSort}>
                  {c.hiddenLabel ? (
                    <span class="visually-hidden">{c.label}</span>
                  ) : sort && c.sort ? (
                    <a class="sort" href={sort.href(c.sort, sorted ? !sort.descending : c.num === true)}>
                      {c.label}
                    </a>
                  ) : (
                    c.label
                  )}
                </th>
              )
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const value = select?.(row)
            return (
              <tr id={rowId?.(row)}>
                {select && (
                  <td>{value !== undefined && <input type="checkbox" name="ids" value={value} aria-label={`Select ${value}`} />}</td>
                )}
                {columns.map((c) => (
                  <td class={c.hiddenLabel ? 'actions' : c.num ? 'num' : undefined}>{c.cell(row)}</td>
                ))}
              </tr>
            )
          })}
        </tbody>
      </table>
    </section>
  )
}

/** Cursor paging: back to the first page, and on to the next one while there is one. */
export function Pager({ first, next, count }: { first?: string; next?: string; count?: string }) {
  if (!first && !next && !count) return null
  return (
    <nav class="pager" aria-label="Pages">
      <span class="muted">{count}</span>
      <span>
        {first && (
          <a href={first} class="button secondary outline small">
            First page
          </a>
        )}{' '}
        {next && (
          <a href={next} class="button secondary small" rel="next">
            Next page →
          </a>
        )}
      </span>
    </nav>
  )
}

/** "Nothing here yet": what the list will hold, the one action that fills it, and the API call. */
export function EmptyState({ title, text, action, api }: { title: string; text: string; action?: ComponentChildren; api?: string }) {
  return (
    <article class="empty">
      <h2>{title}</h2>
      <p>{text}</p>
      {action}
      {api && (
        <details>
          <summary>Or with the API</summary>
          <pre class="snippet">
            <code>{api}</code>
          </pre>
        </details>
      )}
    </article>
  )
}

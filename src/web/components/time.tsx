/** A timestamp: UTC text in a <time>, which the page script shows in the reader's zone (UTC on hover). */
import type { Formatter } from '../format.ts'

export function Time({ at, fmt, date }: { at: string | null | undefined; fmt: Formatter; date?: boolean }) {
  if (!at) return <span class="muted">—</span>
  return (
    <time datetime={at} title={fmt.utc(at)} data-format={date ? 'date' : undefined}>
      {date ? at.slice(0, 10) : fmt.utc(at)}
    </time>
  )
}

/** A headline number: what it counts, over which period, and the change against the period before. */
import type { ComponentChildren } from 'preact'

export function Kpi({ label, value, change }: { label: string; value: ComponentChildren; change?: string }) {
  return (
    <article class="kpi">
      <h2>{label}</h2>
      <div class="value">{value}</div>
      {change && <p class="change">{change}</p>}
    </article>
  )
}

/** "+12% on the previous 30 days", or nothing to compare with. */
export function changeText(now: number, before: number, period: string): string {
  if (before === 0) return now === 0 ? `No change on the previous ${period}` : `None in the previous ${period}`
  const pct = Math.round(((now - before) / before) * 100)
  return `${pct >= 0 ? '+' : ''}${pct}% on the previous ${period}`
}

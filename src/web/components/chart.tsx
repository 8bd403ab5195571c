/**
 * One question per chart, with its numbers in a table: the page script draws the chart from the
 * table (data-x, data-value), and readers, screen readers and copy-paste get the same figures.
 */
import type { ComponentChildren } from 'preact'

export interface ChartRow {
  /** ISO date of the point. */
  x: string
  label: string
  values: { value: number; text: ComponentChildren }[]
}

export function ChartWithTable({ title, series, rows }: { title: string; series: string[]; rows: ChartRow[] }) {
  return (
    <figure class="chart" data-chart>
      <figcaption>{title}</figcaption>
      <div class="plot" aria-hidden="true" />
      <details>
        <summary>The numbers</summary>
        <section class="table-wrap" tabindex={0} aria-label={`${title}: the numbers`}>
          <table>
            <thead>
              <tr>
                <th scope="col">Day</th>
                {series.map((s) => (
                  <th scope="col" class="num">
                    {s}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  <th scope="row" data-x={r.x}>
                    {r.label}
                  </th>
                  {r.values.map((v) => (
                    <td class="num" data-value={String(v.value)}>
                      {v.text}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </details>
    </figure>
  )
}

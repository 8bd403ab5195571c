/** A page's heading, its breadcrumbs, and the one primary action at the top right. */
import type { ComponentChildren } from 'preact'

export interface Crumb {
  label: string
  href: string
}

export function PageHead({ title, crumbs, children }: { title: string; crumbs?: Crumb[]; children?: ComponentChildren }) {
  return (
    <>
      {crumbs && crumbs.length > 0 && (
        <nav aria-label="Breadcrumb">
          <ol>
            {crumbs.map((c) => (
              <li>
                <a href={c.href}>{c.label}</a>
              </li>
            ))}
          </ol>
        </nav>
      )}
      <div class="page-head">
        <h1>{title}</h1>
        {children && <div class="actions">{children}</div>}
      </div>
    </>
  )
}

/**
 * A list whose rows can be acted on together: the table inside a form that posts the checked rows
 * (`ids`) with the action chosen in the bar. For someone who may not act, just the list.
 */
import type { ComponentChildren } from 'preact'
import { Csrf } from './field.tsx'

export function Bulk({
  page,
  action,
  active,
  children,
}: {
  page: { csrf: string }
  action: string
  active: boolean
  children: ComponentChildren
}) {
  if (!active) return <>{children}</>
  return (
    <form method="post" action={action}>
      <Csrf token={page.csrf} />
      {children}
    </form>
  )
}

/**
 * "Check your answers" before an action that cannot be undone or that moves money: what exactly will
 * happen, with the numbers, then Confirm (a POST carrying the same fields) or Cancel (back, unchanged).
 */
import type { ComponentChildren } from 'preact'
import { Csrf } from './field.tsx'

export interface ConfirmProps {
  title: string
  children: ComponentChildren
  action: string
  /** The fields the confirmed POST carries (repeated names for lists). */
  fields: [string, string][]
  confirmLabel: string
  cancelHref: string
  csrf: string
  danger?: boolean
  /** Fields the person fills in before confirming (a reason, a reference). */
  inputs?: ComponentChildren
}

export function Confirm({ title, children, action, fields, confirmLabel, cancelHref, csrf, danger, inputs }: ConfirmProps) {
  return (
    <article class="narrow">
      <h2>{title}</h2>
      {children}
      <form method="post" action={action}>
        <Csrf token={csrf} />
        <input type="hidden" name="confirmed" value="yes" />
        {fields.map(([name, value]) => (
          <input type="hidden" name={name} value={value} />
        ))}
        {inputs}
        <div class="grid confirm-actions">
          <a href={cancelHref} class="button secondary outline">
            Cancel
          </a>
          <button type="submit" class={danger ? 'contrast' : undefined}>
            {confirmLabel}
          </button>
        </div>
      </form>
    </article>
  )
}

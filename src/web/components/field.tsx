/**
 * Form fields in the GOV.UK manner, styled by Pico: a label for every field, a hint under it, the
 * error beside it (aria-invalid, described by the error), and what was typed kept. The summary at
 * the top of a failed form links to each field.
 */
import type { ComponentChildren } from 'preact'
import type { FieldErrors } from '../forms.ts'

/** A field's id from its name: `attribution.windowDays` → `f-attribution-windowDays`. */
export const fieldId = (name: string) => `f-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`

interface Common {
  name: string
  label: string
  hint?: string
  error?: string
  required?: boolean
}

function described(name: string, hint?: string, error?: string): string | undefined {
  const ids = [hint && `${fieldId(name)}-hint`, error && `${fieldId(name)}-error`].filter(Boolean)
  return ids.length ? ids.join(' ') : undefined
}

function Label({ name, label, required }: Pick<Common, 'name' | 'label' | 'required'>) {
  return (
    <label for={fieldId(name)}>
      {label}
      {required && (
        <span class="required" aria-hidden="true">
          {''}
        </span>
      )}
    </label>
  )
}

function After({ name, hint, error }: Pick<Common, 'name' | 'hint' | 'error'>) {
  return (
    <>
      {hint && (
        <small id={`${fieldId(name)}-hint`} class="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${fieldId(name)}-error`} class="field-error">
          <span class="visually-hidden">Error: </span>
          {error}
        </small>
      )}
    </>
  )
}

export interface InputProps extends Common {
  value?: string
  type?: 'text' | 'email' | 'password' | 'url' | 'number' | 'date' | 'datetime-local' | 'search'
  autocomplete?: string
  inputmode?: 'numeric' | 'decimal' | 'email' | 'url' | 'text'
  placeholder?: string
  min?: number
  max?: number
  step?: string
  pattern?: string
  readonly?: boolean
}

export function Input({ name, label, hint, error, required, value, type = 'text', ...rest }: InputProps) {
  return (
    <div class="field">
      <Label name={name} label={label} required={required} />
      <input
        {...(rest as Record<string, unknown>)}
        id={fieldId(name)}
        name={name}
        type={type as 'text'}
        value={value}
        required={required}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={described(name, hint, error)}
      />
      <After name={name} hint={hint} error={error} />
    </div>
  )
}

export interface SelectProps extends Common {
  value?: string
  options: { value: string; label: string }[]
  /** A first option meaning "none" or "any". */
  empty?: string
}

export function Select({ name, label, hint, error, required, value, options, empty }: SelectProps) {
  return (
    <div class="field">
      <Label name={name} label={label} required={required} />
      <select
        id={fieldId(name)}
        name={name}
        required={required}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={described(name, hint, error)}
      >
        {empty !== undefined && <option value="">{empty}</option>}
        {options.map((o) => (
          <option value={o.value} selected={o.value === value}>
            {o.label}
          </option>
        ))}
      </select>
      <After name={name} hint={hint} error={error} />
    </div>
  )
}

export function TextArea({ name, label, hint, error, required, value, rows = 4 }: Common & { value?: string; rows?: number }) {
  return (
    <div class="field">
      <Label name={name} label={label} required={required} />
      <textarea
        id={fieldId(name)}
        name={name}
        rows={rows}
        required={required}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={described(name, hint, error)}
      >
        {value}
      </textarea>
      <After name={name} hint={hint} error={error} />
    </div>
  )
}

/** A group of checkboxes sharing a name (several values), in a fieldset with its legend. */
export function Checkboxes({
  name,
  label,
  hint,
  error,
  options,
  checked,
}: Common & { options: { value: string; label: string; hint?: string }[]; checked: string[] }) {
  return (
    <fieldset id={fieldId(name)} aria-describedby={described(name, hint, error)} aria-invalid={error ? 'true' : undefined}>
      <legend>{label}</legend>
      <After name={name} hint={hint} error={error} />
      {options.map((o, i) => (
        <label for={`${fieldId(name)}-${i}`}>
          <input id={`${fieldId(name)}-${i}`} type="checkbox" name={name} value={o.value} checked={checked.includes(o.value)} />
          {o.label}
          {o.hint && <span class="muted"> — {o.hint}</span>}
        </label>
      ))}
    </fieldset>
  )
}

/** "There is a problem": every error of the form, each linking to its field; the form's own error first. */
export function ErrorSummary({ errors, labels }: { errors: FieldErrors; labels?: Record<string, string> }) {
  const entries = Object.entries(errors)
  if (entries.length === 0) return null
  return (
    <div class="error-summary" role="alert" tabindex={-1} id="error-summary">
      <h2>There is a problem</h2>
      <ul>
        {entries.map(([field, message]) => (
          <li>{field ? <a href={`#${fieldId(field)}`}>{labels?.[field] ? `${labels[field]}: ${message}` : message}</a> : message}</li>
        ))}
      </ul>
    </div>
  )
}

/** The session's CSRF token in a form. */
export function Csrf({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />
}

export function Fields({ children }: { children: ComponentChildren }) {
  return <div class="inline-fields">{children}</div>
}

/**
 * Forms: what a page's POST carried, and the errors to show beside each field. A page builds the same
 * input the API route takes from the fields, then checks it against the route's own schema and passes
 * it to the same service, so the rules are the API's. The errors come back in the reader's words,
 * keyed by the field's path (`attribution.windowDays`), which is also the field's name in the form.
 */
import type { TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { AppError } from '../errors.ts'
import { checkInput } from '../http/input-guard.ts'

export type FieldErrors = Record<string, string>

/** A POSTed form: text fields (trimmed, empty ones absent), their repeats, and uploaded files. */
export class Form {
  constructor(private readonly data: FormData) {}

  static async read(request: Request): Promise<Form> {
    let data: FormData
    try {
      data = await request.formData()
    } catch {
      throw new AppError(400, 'malformed_body', 'the form could not be read')
    }
    const form = new Form(data)
    // The same checks as every API body: no NUL character, no absurd nesting (input-guard.ts).
    checkInput({ body: Object.fromEntries([...data.keys()].map((k) => [k, form.all(k)])) })
    return form
  }

  /** The field's text, trimmed; undefined when absent or empty. */
  text(name: string): string | undefined {
    const value = this.data.get(name)
    if (typeof value !== 'string') return undefined
    const trimmed = value.trim()
    return trimmed === '' ? undefined : trimmed
  }

  /** The field as typed (a password keeps its spaces). */
  raw(name: string): string | undefined {
    const value = this.data.get(name)
    return typeof value === 'string' && value !== '' ? value : undefined
  }

  /** Every non-empty value of a repeated field (checkboxes, multi-selects). */
  all(name: string): string[] {
    return this.data
      .getAll(name)
      .filter((v): v is string => typeof v === 'string')
      .map((v) => v.trim())
      .filter(Boolean)
  }

  /** A whole number, or the text as it was (so the schema reports it), or undefined when empty. */
  integer(name: string): number | string | undefined {
    const text = this.text(name)
    return text !== undefined && /^-?\d{1,9}$/.test(text) ? Number(text) : text
  }

  checked(name: string): boolean {
    return this.data.get(name) !== null
  }

  file(name: string): File | undefined {
    const value = this.data.get(name)
    return value instanceof File && value.size > 0 ? value : undefined
  }

  /** Every field as text, for a form shown again with what was typed (passwords excepted). */
  values(except: string[] = []): Record<string, string> {
    const out: Record<string, string> = {}
    this.data.forEach((value, key) => {
      if (typeof value === 'string' && !except.includes(key)) out[key] ??= value
    })
    return out
  }
}

/** Drops the keys whose value is undefined, so a schema sees a field left out as absent. */
export function defined<T extends Record<string, unknown>>(input: T): T {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as T
}

/** The route schema's verdict on an input, as one message per field path; empty when it passes. */
export function schemaErrors(schema: TSchema, input: unknown): FieldErrors {
  const errors: FieldErrors = {}
  for (const error of Value.Errors(schema, input)) {
    const path = error.path.split('/').filter(Boolean).join('.')
    if (!path || errors[path]) continue
    errors[path] = plainWords(error.schema as Record<string, unknown>, error.value)
  }
  return errors
}

function plainWords(schema: Record<string, unknown>, value: unknown): string {
  if (value === undefined) return 'This field is required'
  const choices = (schema.enum as unknown[] | undefined) ?? (schema.anyOf as { const?: unknown }[] | undefined)?.map((s) => s.const)
  if (choices?.every((c) => c !== undefined)) return `Choose one of: ${choices.join(', ')}`
  if (typeof schema.minLength === 'number' && typeof value === 'string' && value.length < schema.minLength) {
    return schema.minLength === 1 ? 'Enter a value' : `Use at least ${schema.minLength} characters`
  }
  if (typeof schema.maxLength === 'number' && typeof value === 'string' && value.length > schema.maxLength) {
    return `Use at most ${schema.maxLength} characters`
  }
  const integer = schema.type === 'integer' || (schema.anyOf as { type?: string }[] | undefined)?.some((s) => s.type === 'integer')
  const range = [schema.minimum, schema.maximum].every((n) => typeof n === 'number') ? ` from ${schema.minimum} to ${schema.maximum}` : ''
  if (integer) return `Enter a whole number${range}`
  if (typeof schema.pattern === 'string') return 'This is not in the expected format'
  if (typeof schema.maxItems === 'number' && Array.isArray(value) && value.length > schema.maxItems) return `At most ${schema.maxItems}`
  if (typeof schema.minItems === 'number' && Array.isArray(value) && value.length < schema.minItems)
    return `Choose at least ${schema.minItems}`
  return 'This value is not valid'
}

/**
 * Where a service's refusal belongs on the form: the field named by the error's code (`codes`), or by
 * the field path its detail starts with (`deepLinkHosts: …`), else the form as a whole (`''`).
 */
export function errorsOf(error: AppError, codes: Record<string, string> = {}, fields: string[] = []): FieldErrors {
  const detail = error.detail ?? error.code
  const named = codes[error.code] ?? fields.find((f) => detail.startsWith(`${f}:`) || detail.startsWith(`body.${f}:`))
  const message = sentence(detail.replace(/^(body\.)?[\w.]+: /, ''))
  return { [named ?? '']: message }
}

/** "the email is taken" → "The email is taken." */
export function sentence(text: string): string {
  const trimmed = text.trim()
  if (!trimmed) return trimmed
  return trimmed[0]!.toUpperCase() + trimmed.slice(1) + (/[.!?]$/.test(trimmed) ? '' : '.')
}

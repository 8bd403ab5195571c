/**
 * The API reference page at /api/reference, rendered on the server from the OpenAPI document. It needs
 * no script and no CDN, so it works on an air-gapped install and reads the same in any browser.
 */

interface Operation {
  summary?: string
  description?: string
  tags?: string[]
  security?: Record<string, string[]>[]
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown; description?: string }[]
  requestBody?: { content?: Record<string, { schema?: unknown }> }
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>
}

export interface OpenApiDocument {
  info: { title: string; version: string; description?: string }
  paths: Record<string, Record<string, Operation>>
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete']

function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

interface Schema {
  type?: string | string[]
  format?: string
  enum?: unknown[]
  anyOf?: Schema[]
  items?: Schema
  properties?: Record<string, Schema>
  required?: string[]
  description?: string
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
}

/** A schema's type in a few words: `string (date-time) or null`, `array of one of a, b`. */
function typeOf(schema: Schema): string {
  if (schema.enum) return `one of ${schema.enum.map((v) => `<code>${esc(v)}</code>`).join(', ')}`
  if (schema.anyOf) {
    // Elysia documents a number it coerces as `string or integer`: the client sends the number.
    const numeric = schema.anyOf.find((s) => s.type === 'integer' || s.type === 'number')
    if (numeric && schema.anyOf.every((s) => s === numeric || s.type === 'string')) return typeOf(numeric)
    const choices = schema.anyOf.map((s) =>
      s.type === 'null' ? 'null' : s.enum || s.anyOf ? typeOf(s) : `<code>${esc((s as { const?: unknown }).const ?? s.type)}</code>`,
    )
    return schema.anyOf.every((s) => 'const' in s) ? `one of ${choices.join(', ')}` : choices.join(' or ')
  }
  const types = ([] as string[]).concat(schema.type ?? 'any')
  const base = types.filter((t) => t !== 'null').map((t) => (t === 'array' && schema.items ? `array of ${typeOf(schema.items)}` : esc(t)))
  const range =
    schema.minimum !== undefined || schema.maximum !== undefined ? `${schema.minimum ?? '…'} to ${schema.maximum ?? '…'}` : undefined
  const detail = [schema.format, schema.maxLength !== undefined && `≤ ${schema.maxLength} chars`, range].filter(Boolean)
  return `${base.join(' or ')}${detail.length ? ` (${detail.map(esc).join(', ')})` : ''}${types.includes('null') ? ' or null' : ''}`
}

/** Escaped text with `backticked` words set as code, as the route descriptions write them. */
function prose(text: string | undefined): string {
  return esc(text ?? '').replace(/`([^`]+)`/g, '<code>$1</code>')
}

const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-')

/** The rows of an object's fields; nested objects and arrays of objects as dotted names (`rules[].on`). */
function fieldRows(s: Schema, prefix = ''): string[] {
  return Object.entries(s.properties ?? {}).flatMap(([name, field]) => {
    const path = `${prefix}${name}`
    const row = `<tr><td><code>${esc(path)}</code></td><td>${typeOf(field)}</td><td>${s.required?.includes(name) ? 'yes' : ''}</td><td>${prose(field.description)}</td></tr>`
    if (field.properties) return [row, ...fieldRows(field, `${path}.`)]
    if (field.items?.properties) return [row, ...fieldRows(field.items, `${path}[].`)]
    return [row]
  })
}

/** An object schema as one table of its fields; anything else as its type. */
function schemaBlock(schema: unknown): string {
  const s = schema as Schema | undefined
  if (!s) return ''
  if (!s.properties) return `<p class="type">${typeOf(s)}</p>`
  return `<table class="fields"><tr><th>field</th><th>type</th><th>required</th><th>meaning</th></tr>${fieldRows(s).join('')}</table>`
}

function authLine(op: Operation): string {
  if (!op.security?.length) return '<p class="auth public">Public: no credential needed.</p>'
  if ((op as { 'x-partner-only'?: boolean })['x-partner-only']) {
    return '<p class="auth">A partner only: its portal user, a key bound to it, or its X-Auth pair.</p>'
  }
  const scopes = [...new Set(op.security.flatMap((s) => Object.values(s).flat()))]
  if (scopes.includes('*'))
    return '<p class="auth">Requires an admin credential: an admin key, an API key with <code>*</code>, or an owner or admin.</p>'
  const need = scopes.length ? ` with scope <code>${scopes.map(esc).join('</code>, <code>')}</code>` : ''
  return `<p class="auth">Requires an API key (<code>Authorization: Bearer</code> or <code>x-api-key</code>) or a session cookie${need}.</p>`
}

function renderOperation(method: string, path: string, op: Operation): string {
  const id = `${method}-${path}`.replace(/[^a-zA-Z0-9]+/g, '-')
  const params = (op.parameters ?? [])
    .map(
      (p) =>
        `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? 'yes' : ''}</td><td>${typeOf((p.schema ?? {}) as Schema)}</td><td>${prose(p.description ?? (p.schema as Schema | undefined)?.description)}</td></tr>`,
    )
    .join('')
  const body = op.requestBody?.content?.['application/json']?.schema
  const responses = Object.entries(op.responses ?? {})
    .map(([status, r]) => `<h4>${esc(status)}</h4>${schemaBlock(r.content?.['application/json']?.schema)}`)
    .join('')
  return `<section class="op" id="${esc(id)}">
  <h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
  ${op.summary ? `<p>${prose(op.summary)}</p>` : ''}
  ${authLine(op)}
  ${params ? `<h4>Parameters</h4><table class="fields"><tr><th>name</th><th>in</th><th>required</th><th>type</th><th>meaning</th></tr>${params}</table>` : ''}
  ${body ? `<h4>Request body</h4>${schemaBlock(body)}` : ''}
  ${responses ? `<h4>Responses</h4>${responses}` : ''}
</section>`
}

export function renderReferencePage(doc: OpenApiDocument): string {
  const byTag = new Map<string, string[]>()
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method]
      if (!op) continue
      const tag = op.tags?.[0] ?? 'General'
      byTag.set(tag, [...(byTag.get(tag) ?? []), renderOperation(method, path, op)])
    }
  }
  const tags = [...byTag.keys()].sort()
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info.title)} API reference</title><link rel="icon" href="data:,">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
header{background:#1d2330;color:#fff;padding:1.2rem 2rem}header h1{margin:0;font-size:1.4rem}
nav{padding:.5rem 2rem;border-bottom:1px solid #dde}nav a{margin-right:1rem}
main{max-width:64rem;margin:0 auto;padding:1rem 2rem}
.op{background:#fff;border:1px solid #dde;border-radius:6px;padding:.2rem 1rem;margin:1rem 0;overflow-x:auto}
.method{display:inline-block;min-width:4rem;font-size:.8rem;padding:.1rem .4rem;border-radius:4px;color:#fff;background:#555;text-align:center}
.get{background:#2b6cb0}.post{background:#2f855a}.patch,.put{background:#975a16}.delete{background:#c53030}
table{border-collapse:collapse;margin:.3rem 0;font-size:.9rem}td,th{border:1px solid #dde;padding:.2rem .5rem;text-align:left;vertical-align:top}th{background:#f3f4f7}
td table{margin:.3rem 0 0}td:last-child{min-width:12rem}code{font-size:.85em;background:#f3f4f7;padding:0 .2rem;border-radius:3px}
.auth{color:#553c9a}.auth.public{color:#2f855a}
</style></head>
<body><header><h1>${esc(doc.info.title)} ${esc(doc.info.version)}: API reference</h1>
${doc.info.description ? `<p>${esc(doc.info.description)}</p>` : ''}</header>
<nav>${tags.map((t) => `<a href="#tag-${slug(t)}">${esc(t)}</a>`).join('')} <a href="/api/openapi.json">openapi.json</a></nav>
<main>${tags.map((t) => `<h2 id="tag-${slug(t)}">${esc(t)}</h2>${byTag.get(t)!.join('\n')}`).join('\n')}</main>
</body></html>`
}

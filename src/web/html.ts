/**
 * Pages to HTML: Preact's JSX (function components, elements, fragments) rendered to a string in one
 * pass. The console's pages are plain functions of their data (no state, hooks, context or class
 * components), so a list of 50 rows costs what its markup costs: preact-render-to-string, which
 * serves all of Preact, spent about as long on a queue page as the database did on its queries.
 * The output is the same as preact-render-to-string's, byte for byte (test/html.test.ts checks that
 * against it): the same attribute names, the same escaping, the same void elements. What pages do
 * not use (class components, style objects, SVG) is refused loudly rather than rendered differently.
 */
import { Fragment, isValidElement, type VNode } from 'preact'

/** Elements without content or closing tag: `<input …/>`. */
const VOID = new Set([
  'area',
  'base',
  'br',
  'col',
  'command',
  'embed',
  'hr',
  'img',
  'input',
  'keygen',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
])
/** Characters that are not part of an attribute's or a tag's name. */
const INVALID_NAME = /[\s\n\\/='"\0<>]/
/** React-style camelCase names HTML spells in lower case (`tabIndex`, `readOnly`). */
const LOWER_CASED =
  /^(?:accessK|auto[A-Z]|cell|ch|col|cont|cross|dateT|encT|form[A-Z]|frame|hrefL|inputM|maxL|minL|noV|playsI|popoverT|readO|rowS|src[A-Z]|tabI|useM|item[A-Z])/
const ESCAPED = /["&<]/

/** Text or an attribute's value, escaped: `"`, `&` and `<`, as preact-render-to-string does. */
export function escapeHtml(text: string): string {
  if (text.length === 0 || !ESCAPED.test(text)) return text
  let out = ''
  let last = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    const entity = code === 34 ? '&quot;' : code === 38 ? '&amp;' : code === 60 ? '&lt;' : undefined
    if (entity === undefined) continue
    if (i !== last) out += text.slice(last, i)
    out += entity
    last = i + 1
  }
  return out + text.slice(last)
}

/** `xlinkHref` → `xlink:href`. */
const NAMESPACED = /^(xlink|xmlns|xml)([A-Z])/

/**
 * How a prop's name is written as an attribute, worked out once per name: `null` for props that are
 * not attributes. `asText`: its value is written as text whatever it is (aria-*, data-*, draggable,
 * spellcheck: `true` is "true" and `false` is "false"), where other attributes are bare when true
 * and left out when false.
 */
interface AttributeName {
  name: string
  asText: boolean
}
const NOT_AN_ATTRIBUTE = new Set(['children', 'key', 'ref', '__self', '__source', 'dangerouslySetInnerHTML'])
const names = new Map<string, AttributeName | null>()

function attributeName(prop: string): AttributeName | null {
  let known = names.get(prop)
  if (known !== undefined) return known
  if (NOT_AN_ATTRIBUTE.has(prop) || INVALID_NAME.test(prop)) known = null
  else if (prop === 'htmlFor') known = { name: 'for', asText: false }
  else if (prop === 'className') known = { name: 'class', asText: false }
  else if (prop === 'defaultChecked') known = { name: 'checked', asText: false }
  else if (prop === 'defaultSelected') known = { name: 'selected', asText: false }
  else if (prop === 'defaultValue') known = { name: 'value', asText: false }
  else if (prop === 'acceptCharset') known = { name: 'accept-charset', asText: false }
  else if (prop === 'httpEquiv') known = { name: 'http-equiv', asText: false }
  else if (NAMESPACED.test(prop)) known = { name: prop.replace(NAMESPACED, '$1:$2').toLowerCase(), asText: false }
  else if (prop[4] === '-' || prop === 'draggable' || prop === 'spellcheck') known = { name: prop, asText: true }
  else known = { name: LOWER_CASED.test(prop) ? prop.toLowerCase() : prop, asText: false }
  names.set(prop, known)
  return known
}

/** The whole tree as HTML. */
export function renderHtml(node: unknown): string {
  return render(node, undefined)
}

/** `selected`: the value of the <select> being rendered (its <option> of that value is marked selected). */
function render(node: unknown, selected: unknown): string {
  if (node === null || node === undefined || typeof node === 'boolean') return ''
  if (typeof node === 'string') return escapeHtml(node)
  if (typeof node !== 'object') return typeof node === 'function' ? '' : String(node)
  if (Array.isArray(node)) {
    let out = ''
    for (const child of node) out += render(child, selected)
    return out
  }
  // Any other object is not markup.
  if (!isValidElement(node)) return ''
  const vnode = node as VNode<Record<string, unknown>>
  const { type, props } = vnode
  if (typeof type === 'function') {
    if (type === Fragment) return render(props.children, selected)
    if (type.prototype?.render) throw new Error(`renderHtml: class components are not supported (${type.name})`)
    return render((type as (p: unknown) => unknown)(props), selected)
  }
  return element(type, props, selected)
}

function element(tag: string, props: Record<string, unknown>, selected: unknown): string {
  if (INVALID_NAME.test(tag)) throw new Error(`${tag} is not a valid HTML tag name`)
  if (tag === 'svg') throw new Error('renderHtml: SVG is not supported')
  let open = `<${tag}`
  let children = props.children
  let inner: string | undefined
  for (const prop in props) {
    let value = props[prop]
    if (typeof value === 'function' && prop !== 'class' && prop !== 'className') continue
    // `value` of a <textarea> is its content; of a <select>, which of its options is selected.
    if (prop === 'value' || prop === 'defaultValue') {
      if (tag === 'textarea') {
        children = value
        continue
      }
      if (tag === 'select') {
        selected = value
        continue
      }
      // Loosely, as preact-render-to-string compares: a <select> of the number 2 selects the option "2".
      // biome-ignore lint/suspicious/noDoubleEquals: the loose comparison is the rule being matched
      if (tag === 'option' && selected == value && !('selected' in props)) open += ' selected'
    }
    if ((prop === 'htmlFor' && 'for' in props) || (prop === 'className' && 'class' in props)) continue
    if (prop === 'dangerouslySetInnerHTML') {
      inner = (value as { __html?: string } | null)?.__html
      continue
    }
    if (prop === 'style' && typeof value === 'object' && value !== null) throw new Error('renderHtml: style objects are not supported')
    const attribute = attributeName(prop)
    if (!attribute || value === null || value === undefined) continue
    if (attribute.asText) value = String(value)
    else if (value === false) continue
    open += value === true || value === '' ? ` ${attribute.name}` : ` ${attribute.name}="${escapeHtml(String(value))}"`
  }
  if (!inner) inner = typeof children === 'string' ? escapeHtml(children) : render(children, selected)
  if (!inner && VOID.has(tag)) return `${open}/>`
  return `${open}>${inner}</${tag}>`
}

/**
 * Numbers, money and dates for the reader: in the language their browser asks for (Accept-Language),
 * through Intl. Money arrives as the API's exact decimal strings and is formatted from the string, so
 * no amount passes through a float. Dates are rendered as <time> in UTC; the page script shows them
 * in the reader's own time zone.
 */
export interface Formatter {
  locale: string
  /** `€1,204.50` for ("1204.50", "EUR"). */
  money(amount: string, currency: string): string
  /** Several currencies: `$12.00 · €3.40`, or a dash when empty. */
  amounts(byCurrency: Record<string, string>): string
  number(n: number): string
  /** `1 click`, `1,204 clicks`: a count and its noun (the pages' words are English: one, or many). */
  count(n: number, one: string, many: string): string
  /** `2026-05-01 14:03 UTC`: the text a <time> shows before the page script localizes it. */
  utc(iso: string): string
}

const FALLBACK = 'en'

/** The first language of the Accept-Language header that Intl knows, else English. */
export function negotiateLocale(acceptLanguage: string | null): string {
  const wanted = (acceptLanguage ?? '')
    .split(',')
    .map((part) => part.split(';')[0]!.trim())
    .filter((tag) => /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(tag))
  for (const tag of wanted) {
    try {
      if (Intl.NumberFormat.supportedLocalesOf(tag).length > 0) return tag
    } catch {}
  }
  return FALLBACK
}

const cache = new Map<string, Formatter>()

export function formatterFor(locale: string): Formatter {
  const known = cache.get(locale)
  if (known) return known
  const currencies = new Map<string, Intl.NumberFormat>()
  const numbers = new Intl.NumberFormat(locale)
  const currency = (code: string) => {
    let format = currencies.get(code)
    if (!format) {
      format = new Intl.NumberFormat(locale, { style: 'currency', currency: code })
      currencies.set(code, format)
    }
    return format
  }
  const formatter: Formatter = {
    locale,
    // Intl formats a decimal string exactly (no float in between).
    money: (amount, code) => currency(code).format(amount as unknown as number),
    amounts: (byCurrency) => {
      const entries = Object.entries(byCurrency)
      return entries.length === 0 ? '—' : entries.map(([code, amount]) => formatter.money(amount, code)).join(' · ')
    },
    number: (n) => numbers.format(n),
    count: (n, one, many) => `${numbers.format(n)} ${n === 1 ? one : many}`,
    utc: (iso) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`,
  }
  if (cache.size < 100) cache.set(locale, formatter)
  return formatter
}

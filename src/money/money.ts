/**
 * Money without floats. Amounts travel as decimal strings (`"12.00"`) with an ISO 4217 currency and are
 * kept as integer minor units; how many digits a currency has (JPY 0, USD 2, KWD 3) comes from the
 * runtime's ICU data (Intl), not a hand-kept table. Percentages are kept as basis points (1% = 100).
 *
 * One amount is at most MAX_AMOUNT_MINOR; sums of amounts (a payout, a report's totals) are not
 * bounded and are taken in BigInt, so they stay exact however far past 2^53 minor units they go.
 */
import { AppError } from '../errors.ts'

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'))
/** ISO 4217 codes that are not money one pays commissions in: test, no-currency, metals, fund units. */
const NOT_PAYABLE = new Set(['XXX', 'XTS', 'XAU', 'XAG', 'XPT', 'XPD', 'XBA', 'XBB', 'XBC', 'XBD', 'XDR', 'XSU', 'XUA'])

const digitsOf = new Map<string, number>()

export function currencyDigits(currency: string): number {
  const known = digitsOf.get(currency)
  if (known !== undefined) return known
  if (!/^[A-Z]{3}$/.test(currency) || !CURRENCIES.has(currency) || NOT_PAYABLE.has(currency)) {
    throw new AppError(400, 'unknown_currency', `${currency} is not an ISO 4217 currency partnerd can pay in`)
  }
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2
  digitsOf.set(currency, digits)
  return digits
}

const AMOUNT = /^(0|[1-9]\d*)(\.\d+)?$/

/**
 * The largest amount partnerd takes, in minor units of any currency: 10^15, that is
 * 10,000,000,000,000.00 USD or EUR, 1,000,000,000,000,000 JPY, 1,000,000,000,000.000 KWD. A sale's
 * value, a refund, a fixed commission, a payout minimum: every amount that comes in is checked
 * against it in parseAmount, the one door money comes in by. So any one amount, and any one
 * commission (at most the sale or the fixed amount it comes from), is an integer a JS number holds
 * exactly, nine times over (2^53 ≈ 9.007 × 10^15): what is computed from it (shares, splits,
 * differences) stays exact too. Sums of many are not bounded by it; they are BigInt (addAmounts,
 * toMinor, db/codec.ts readMinor).
 */
export const MAX_AMOUNT_MINOR = 10 ** 15
const MAX_DIGITS = String(MAX_AMOUNT_MINOR).length

/**
 * `"12.5"` USD → 1250. Refuses negatives, exponents, more decimals than the currency has, and more
 * than MAX_AMOUNT_MINOR (the detail says the maximum in the currency).
 */
export function parseAmount(value: string, currency: string, field = 'amount'): number {
  const digits = currencyDigits(currency)
  const match = AMOUNT.exec(value)
  if (!match)
    throw new AppError(400, 'invalid_amount', `${field}: write a non-negative decimal like "12.00" (got ${JSON.stringify(value)})`)
  const whole = match[1]!
  const fraction = (match[2] ?? '.').slice(1)
  if (fraction.length > digits)
    throw new AppError(400, 'invalid_amount', `${field}: ${currency} has ${digits} decimal places (got ${value})`)
  // Compared exactly: in a float, an amount a little over the maximum (or over 2^53) rounds onto a
  // number that looks allowed. Too many digits is too large before any arithmetic (and a long string
  // is not parsed).
  const minor = whole.length + digits <= MAX_DIGITS ? BigInt(whole + fraction.padEnd(digits, '0')) : undefined
  if (minor === undefined || minor > BigInt(MAX_AMOUNT_MINOR)) {
    const shown = value.length > 40 ? `${value.slice(0, 20)}…` : value
    throw new AppError(400, 'invalid_amount', `${field}: at most ${formatAmount(MAX_AMOUNT_MINOR, currency)} ${currency} (got ${shown})`)
  }
  return Number(minor)
}

/**
 * A JSON number as the decimal string it was written as, for parseAmount and parsePercent to judge
 * (OpenPartner's clients send `"value": 249`). JSON has no exact decimals: the parser already made
 * the number a double, and the shortest text that reads back as that double is what the client
 * wrote whenever what it wrote was exact (`19.99`, `249`); `0.1 + 0.2` computed by the client comes
 * as `0.30000000000000004`, which is refused as over-precise rather than rounded. An exponent
 * (`1e-7`, `1e+21`) is written out in full, so the refusal names the decimals or the maximum.
 */
export function decimalOf(value: number): string {
  const text = String(value)
  const exponent = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text)
  if (!exponent) return text
  const [, sign, whole, fraction = '', power] = exponent as unknown as [string, string, string, string | undefined, string]
  const digits = whole + fraction
  const point = whole.length + Number(power)
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`
}

/**
 * Minor units given as an integer rather than a decimal (a tenant import's rows): a whole number
 * within ±MAX_AMOUNT_MINOR (negative only where `signed`: clawbacks), or the reason it is not.
 */
export function checkMinor(value: unknown, options: { signed?: boolean } = {}): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return `must be a whole number of minor units (got ${JSON.stringify(value)})`
  if (value < 0 && !options.signed) return `must not be negative (got ${value})`
  if (Math.abs(value) > MAX_AMOUNT_MINOR) return `must be at most ${MAX_AMOUNT_MINOR} minor units (got ${value})`
  return undefined
}

/**
 * The exact minor units of a decimal amount partnerd wrote itself (formatAmount's output, a sum,
 * negative ones too): unbounded, as BigInt. Input from outside goes through parseAmount instead.
 */
export function toMinor(amount: string, currency: string): bigint {
  const digits = currencyDigits(currency)
  const negative = amount.startsWith('-')
  const [whole = '0', fraction = ''] = (negative ? amount.slice(1) : amount).split('.')
  const minor = BigInt(whole + fraction.padEnd(digits, '0'))
  return negative ? -minor : minor
}

/** 1250 USD → `"12.50"`; -1250 → `"-12.50"`. */
export function formatAmount(minor: number | bigint, currency: string): string {
  const digits = currencyDigits(currency)
  const sign = minor < 0 ? '-' : ''
  const abs = minor < 0 ? -minor : minor
  if (digits === 0) return `${sign}${abs}`
  const text = String(abs).padStart(digits + 1, '0')
  return `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}`
}

/** `"12.5"` → 1250 basis points; 0 < p ≤ 100 with at most two decimals. */
export function parsePercent(value: string, field = 'percent'): number {
  const match = /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(value)
  const bp = match ? Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0')) : Number.NaN
  if (!(bp > 0 && bp <= 10_000))
    throw new AppError(
      400,
      'invalid_percent',
      `${field}: a percentage above 0 and at most 100, two decimals at most (got ${JSON.stringify(value)})`,
    )
  return bp
}

export function formatPercent(bp: number): string {
  return bp % 100 === 0 ? String(bp / 100) : (bp / 100).toFixed(2).replace(/0$/, '')
}

/**
 * `amount × numerator / denominator` in minor units, rounded half away from zero to the nearest minor
 * unit: the one rounding rule for commissions (a percentage of a sale, the share of a refund). Exact:
 * the product is taken in BigInt, so no intermediate passes through a float.
 */
export function prorate(amount: number, numerator: number, denominator: number): number {
  if (denominator <= 0) throw new RangeError('denominator must be positive')
  const product = BigInt(amount) * BigInt(numerator)
  const d = BigInt(denominator)
  const sign = product < 0n ? -1n : 1n
  const abs = product * sign
  const rounded = (abs / d + ((abs % d) * 2n >= d ? 1n : 0n)) * sign
  return Number(rounded)
}

/** `bp` basis points of `amount` (2000 bp of 4999 → 1000). */
export function percentOf(amount: number, bp: number): number {
  return prorate(amount, bp, 10_000)
}

/**
 * Splits `total` minor units by weights (largest remainder), so the parts always add up to the total
 * and no unit is lost to rounding. Ties go to the earlier part.
 */
export function splitByWeights(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0)
  if (sum <= 0) throw new RangeError('weights must add up to more than zero')
  const exact = weights.map((w) => (BigInt(total) * BigInt(w)) / BigInt(sum))
  const parts = exact.map(Number)
  let left = total - parts.reduce((a, b) => a + b, 0)
  const order = weights
    .map((w, i) => ({ i, remainder: Number((BigInt(total) * BigInt(w)) % BigInt(sum)) }))
    .sort((a, b) => b.remainder - a.remainder || a.i - b.i)
  for (const { i } of order) {
    if (left <= 0) break
    parts[i]! += 1
    left--
  }
  return parts
}

/** The exact sum of decimal amounts of one currency (BigInt: no size limit, no float). */
export function addAmounts(amounts: readonly string[], currency: string): string {
  return formatAmount(
    amounts.reduce((sum, amount) => sum + toMinor(amount, currency), 0n),
    currency,
  )
}

/**
 * An amount another system wrote, as it wrote it (an OpenPartner bundle: numeric columns as decimal
 * strings, rule values as JSON numbers): a decimal, negative where `signed`, with more decimals than
 * the currency has rounded half away from zero to its unit, the rule commissions are rounded by. The
 * result is minor units within MAX_AMOUNT_MINOR, or 400 invalid_amount naming `field`.
 */
export function importedAmount(value: unknown, currency: string, field: string, options: { signed?: boolean } = {}): number {
  const digits = currencyDigits(currency)
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value
  const match = typeof text === 'string' ? /^(-?)(\d{1,20})(?:\.(\d{1,20}))?$/.exec(text.trim()) : null
  if (!match) throw new AppError(400, 'invalid_amount', `${field}: not a decimal amount (got ${JSON.stringify(value)})`)
  const [, sign, whole, fraction = ''] = match
  const kept = BigInt(whole! + fraction.slice(0, digits).padEnd(digits, '0'))
  const roundsUp = (fraction[digits] ?? '0') >= '5'
  const minor = (kept + (roundsUp ? 1n : 0n)) * (sign ? -1n : 1n)
  const wrong = checkMinor(Number(minor), options)
  if (minor > BigInt(MAX_AMOUNT_MINOR) || minor < -BigInt(MAX_AMOUNT_MINOR) || wrong)
    throw new AppError(400, 'invalid_amount', `${field}: ${wrong ?? `at most ${formatAmount(MAX_AMOUNT_MINOR, currency)} ${currency}`}`)
  return Number(minor)
}

/**
 * Money without floats. Amounts travel as decimal strings (`"12.00"`) with an ISO 4217 currency and are
 * kept as integer minor units; how many digits a currency has (JPY 0, USD 2, KWD 3) comes from the
 * runtime's ICU data (Intl), not a hand-kept table. Percentages are kept as basis points (1% = 100).
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

/** `"12.5"` USD → 1250. Refuses negatives, exponents, and more decimals than the currency has. */
export function parseAmount(value: string, currency: string, field = 'amount'): number {
  const digits = currencyDigits(currency)
  const match = AMOUNT.exec(value)
  if (!match)
    throw new AppError(400, 'invalid_amount', `${field}: write a non-negative decimal like "12.00" (got ${JSON.stringify(value)})`)
  const fraction = (match[2] ?? '.').slice(1)
  if (fraction.length > digits)
    throw new AppError(400, 'invalid_amount', `${field}: ${currency} has ${digits} decimal places (got ${value})`)
  const minor = Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0')
  if (!Number.isSafeInteger(minor)) throw new AppError(400, 'invalid_amount', `${field}: ${value} is too large`)
  return minor
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
  const digits = currencyDigits(currency)
  const total = amounts.reduce((sum, amount) => {
    const negative = amount.startsWith('-')
    const [whole = '0', fraction = ''] = (negative ? amount.slice(1) : amount).split('.')
    const minor = BigInt(whole + fraction.padEnd(digits, '0'))
    return sum + (negative ? -minor : minor)
  }, 0n)
  return formatAmount(total, currency)
}

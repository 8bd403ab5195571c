/**
 * Commission rules of a program, one per event: what a signup (lead) or a sale earns.
 *
 *   { "on": "signup", "amount": "5.00" }                                   a fixed amount
 *   { "on": "sale", "percent": "20" }                                      a share of the first sale
 *   { "on": "sale", "percent": "30", "recurring": { "months": 12 } }      of each payment for 12 months
 *   { "on": "sale", "percent": "30", "recurring": { "lifetime": true },
 *     "stepDown": { "afterMonths": 3, "percent": "10" } }                  30% for 3 months, then 10%
 *
 * A fixed amount is in the program's currency; it may say so (`"currency": "USD"`), and naming
 * another is refused rather than converted. Stored in minor units and basis points; read back in the
 * same decimal-string shape.
 */
import { AppError } from '../errors.ts'
import { formatAmount, formatPercent, parseAmount, parsePercent } from '../money/money.ts'

export const RULE_EVENTS = ['signup', 'sale'] as const
export type RuleEvent = (typeof RULE_EVENTS)[number]

export interface RuleInput {
  on: RuleEvent
  percent?: string
  amount?: string
  /** The currency of `amount`, when the rule names it: must be the program's. */
  currency?: string
  recurring?: { months?: number; lifetime?: true }
  stepDown?: { afterMonths: number; percent: string }
}

export type StoredRule =
  | { on: RuleEvent; kind: 'fixed'; minor: number }
  | {
      on: 'sale'
      kind: 'percent'
      bp: number
      recurring: { months: number } | { lifetime: true } | null
      stepDown: { afterMonths: number; bp: number } | null
    }

function bad(index: number, detail: string): AppError {
  return new AppError(400, 'invalid_rules', `rules.${index}: ${detail}`)
}

export function parseRules(rules: RuleInput[], currency: string): StoredRule[] {
  const seen = new Set<string>()
  return rules.map((rule, i) => {
    if (seen.has(rule.on)) throw bad(i, `a second rule for ${rule.on}; one rule per event`)
    seen.add(rule.on)
    if ((rule.percent === undefined) === (rule.amount === undefined)) throw bad(i, 'give exactly one of percent or amount')
    if (rule.currency !== undefined && rule.amount === undefined) throw bad(i, 'currency goes with a fixed amount')
    if (rule.amount !== undefined) {
      if (rule.recurring || rule.stepDown) throw bad(i, 'recurring and stepDown apply to percentage rules')
      if (rule.currency !== undefined && rule.currency !== currency)
        throw bad(i, `the program is in ${currency} (the rule says ${rule.currency})`)
      return { on: rule.on, kind: 'fixed', minor: parseAmount(rule.amount, currency, `rules.${i}.amount`) }
    }
    if (rule.on !== 'sale') throw bad(i, 'a percentage needs a sale to take it from; use amount for signups')
    let recurring: { months: number } | { lifetime: true } | null = null
    if (rule.recurring) {
      const { months, lifetime } = rule.recurring
      if ((months === undefined) === (lifetime !== true)) throw bad(i, 'recurring takes months or lifetime: true')
      recurring = lifetime ? { lifetime: true } : { months: months! }
    }
    let stepDown: { afterMonths: number; bp: number } | null = null
    if (rule.stepDown) {
      if (!recurring) throw bad(i, 'stepDown needs a recurring rule')
      if ('months' in recurring && rule.stepDown.afterMonths >= recurring.months)
        throw bad(i, 'stepDown.afterMonths must fall within the recurring months')
      stepDown = { afterMonths: rule.stepDown.afterMonths, bp: parsePercent(rule.stepDown.percent, `rules.${i}.stepDown.percent`) }
    }
    return { on: 'sale', kind: 'percent', bp: parsePercent(rule.percent!, `rules.${i}.percent`), recurring, stepDown }
  })
}

export function formatRules(rules: StoredRule[], currency: string): RuleInput[] {
  return rules.map((rule) => {
    if (rule.kind === 'fixed') return { on: rule.on, amount: formatAmount(rule.minor, currency) }
    return {
      on: rule.on,
      percent: formatPercent(rule.bp),
      ...(rule.recurring ? { recurring: rule.recurring } : {}),
      ...(rule.stepDown ? { stepDown: { afterMonths: rule.stepDown.afterMonths, percent: formatPercent(rule.stepDown.bp) } } : {}),
    }
  })
}

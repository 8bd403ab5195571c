/**
 * OpenPartner's program fields beside partnerd's, on POST, GET and PATCH /programs: its clients send
 * `commissionRule`, `attributionWindowDays`, `attributionModel`, `deepLinkAllowedDomains` (a comma
 * separated string) and `holdbackDays` as OpenPartner documents them, and read them back in every
 * answer beside partnerd's own fields. This module maps one shape onto the other, and is the only
 * place that knows OpenPartner's: the service takes partnerd's ProgramInput and nothing else.
 *
 * commissionRule is one rule `{type, value}` (OpenPartner's first shape) or a list of
 * `{trigger, eventType?, type, value, currency?, recurring?, recurringMonths?}`. Each becomes one
 * of partnerd's rules with the same meaning, or is refused (400 invalid_rules, naming it): a rule
 * is never bent into something that pays otherwise than OpenPartner would.
 *
 *   percent, trigger every (the one-rule shape), a sale type or none → { on: sale, percent, recurring: { lifetime: true } }
 *     … recurring with recurringMonths N                            → … recurring: { months: N }
 *   percent, trigger first, a sale type                             → { on: sale, percent }     the first sale
 *   fixed, trigger first, a sale type                               → { on: sale, amount }      the first sale
 *   fixed, trigger first or every, signup or lead                   → { on: signup, amount }    once per customer
 *
 * A rule without eventType is OpenPartner's "every event with a value": the sales (sale, purchase,
 * invoice_paid, opportunity_won), the events partnerd takes a percentage of. Refused, since partnerd
 * has no rule that pays so: a fixed amount on every event or every sale, `subsequent`, a percentage
 * of a sign-up, an event type that earns nothing here (trial_started…), two rules for one event,
 * more than 120 recurring months. Read back, each of partnerd's rules is written in the list shape
 * (with `stepDown` for a step-down, which OpenPartner has not), and posting that back changes nothing.
 *
 * A program created with commissionRule starts `active`, as OpenPartner's programs do (they have no
 * draft), unless the body says otherwise; without a currency it is in the one its fixed amounts
 * name, else in the tenant's default currency. Deep-link hosts match exactly, as partnerd's always
 * do: OpenPartner also let subdomains of an allowed domain through; list them.
 */
import { t } from 'elysia'
import { triggerOf } from '../attribution/events.ts'
import { AppError } from '../errors.ts'
import { OneOf } from '../http/one-of.ts'
import { decimalOf, parsePercent } from '../money/money.ts'
import type { RuleInput } from './rules.ts'
import type { Program, ProgramInput } from './service.ts'

const MODELS = ['last_click', 'first_click', 'linear', 'position'] as const
const MAX_RECURRING_MONTHS = 120

const Value = t.Union([t.Number(), t.String({ maxLength: 24 })], {
  description: 'A percentage (20 for 20%), or an amount in the program’s currency: a number, or a decimal string.',
})
export const SubRule = t.Object(
  {
    trigger: t.Optional(OneOf(['every', 'first', 'subsequent'], { description: 'every (when left out) or first.' })),
    eventType: t.Optional(t.String({ minLength: 1, maxLength: 80 })),
    type: OneOf(['percent', 'fixed']),
    value: Value,
    currency: t.Optional(t.String({ pattern: '^[A-Z]{3}$' })),
    recurring: t.Optional(t.Boolean()),
    recurringMonths: t.Optional(t.Integer({ minimum: 1, maximum: 600 })),
    stepDown: t.Optional(t.Object({ afterMonths: t.Integer({ minimum: 1, maximum: 119 }), value: Value }, { additionalProperties: false })),
  },
  { additionalProperties: false },
)
export type SubRuleInput = typeof SubRule.static

const CommissionRule = t.Union([SubRule, t.Array(SubRule, { minItems: 1, maxItems: 10 })], {
  description: 'OpenPartner’s rules (one, or a list); give this or rules.',
})
const Window = t.Integer({ minimum: 1, maximum: 365, description: 'OpenPartner’s attribution.windowDays.' })
const Model = OneOf([...MODELS], { description: 'OpenPartner’s attribution.model.' })
const Domains = t.String({ maxLength: 1000, description: 'OpenPartner’s deepLinkHosts, comma separated.' })

/** OpenPartner's fields of a new program. */
export const OpenPartnerProgramFields = {
  commissionRule: t.Optional(CommissionRule),
  attributionWindowDays: t.Optional(Window),
  attributionModel: t.Optional(Model),
  deepLinkAllowedDomains: t.Optional(Domains),
}
/** OpenPartner's fields of a change: null clears the deep-link domains (and the holdback, see ProgramChangesBody). */
export const OpenPartnerProgramChangeFields = {
  ...OpenPartnerProgramFields,
  deepLinkAllowedDomains: t.Optional(t.Nullable(Domains)),
}

/** What an answer adds for OpenPartner's clients: its names for what the program holds. */
export const OpenPartnerProgramView = {
  commissionRule: t.Array(
    t.Object({
      trigger: OneOf(['every', 'first']),
      eventType: OneOf(['signup', 'sale']),
      type: OneOf(['percent', 'fixed']),
      value: t.Union([t.Number(), t.String()], { description: 'A percentage as a number; an amount as a decimal string.' }),
      currency: t.Optional(t.String()),
      recurring: t.Optional(t.Literal(true)),
      recurringMonths: t.Optional(t.Integer()),
      stepDown: t.Optional(t.Object({ afterMonths: t.Integer(), value: t.Number() })),
    }),
  ),
  attributionWindowDays: t.Integer(),
  attributionModel: OneOf([...MODELS]),
  deepLinkAllowedDomains: t.Nullable(t.String()),
}

interface OpenPartnerFields {
  commissionRule?: SubRuleInput | SubRuleInput[]
  attributionWindowDays?: number
  attributionModel?: (typeof MODELS)[number]
  deepLinkAllowedDomains?: string | null
}
/** A body as the routes take it: partnerd's fields and OpenPartner's, with OpenPartner's null holdback. */
type Body = Omit<Partial<ProgramInput>, 'holdbackDays'> & OpenPartnerFields & { holdbackDays?: number | null }

/** A new program's input from a body in partnerd's shape, OpenPartner's, or both where they do not overlap. */
export function programInput(body: Body & Pick<ProgramInput, 'name' | 'destinationUrl'>): ProgramInput {
  const input = translate(body)
  if (body.commissionRule !== undefined) {
    input.status ??= 'active'
    input.currency ??= currencyOfAmounts(input.rules ?? [])
  }
  return input as ProgramInput
}

/** A change's input, likewise; OpenPartner's null holdback (none) is 0 days. */
export function programChanges(body: Body): Partial<ProgramInput> {
  return translate(body)
}

function translate(body: Body): Partial<ProgramInput> {
  const { commissionRule, attributionWindowDays, attributionModel, deepLinkAllowedDomains, holdbackDays, ...own } = body
  const input: Partial<ProgramInput> = { ...own }
  if (commissionRule !== undefined) {
    if (own.rules !== undefined) throw bothGiven('rules', 'commissionRule')
    input.rules = rulesOf(commissionRule)
  }
  if (attributionWindowDays !== undefined || attributionModel !== undefined) {
    if (own.attribution !== undefined) throw bothGiven('attribution', 'attributionWindowDays and attributionModel')
    input.attribution = {
      ...(attributionWindowDays !== undefined ? { windowDays: attributionWindowDays } : {}),
      ...(attributionModel !== undefined ? { model: attributionModel } : {}),
    }
  }
  if (deepLinkAllowedDomains !== undefined) {
    if (own.deepLinkHosts !== undefined) throw bothGiven('deepLinkHosts', 'deepLinkAllowedDomains')
    input.deepLinkHosts = (deepLinkAllowedDomains ?? '')
      .split(',')
      .map((host) => host.trim())
      .filter(Boolean)
  }
  if (holdbackDays !== undefined) input.holdbackDays = holdbackDays ?? 0
  return input
}

/** The program in OpenPartner's names, for the answer. */
export function openPartnerView(program: Program): typeof OpenPartnerViewType.static {
  return {
    commissionRule: program.rules.map((rule) => subRuleOf(rule, program.currency)),
    attributionWindowDays: program.attribution.windowDays,
    attributionModel: program.attribution.model,
    deepLinkAllowedDomains: program.deepLinkHosts.length > 0 ? program.deepLinkHosts.join(',') : null,
  }
}
const OpenPartnerViewType = t.Object(OpenPartnerProgramView)

/** One of partnerd's rules as OpenPartner writes it: the answers' shape, and the export bundle's. */
export function subRuleOf(rule: RuleInput, currency: string): (typeof OpenPartnerViewType.static)['commissionRule'][number] {
  if (rule.amount !== undefined) return { trigger: 'first', eventType: rule.on, type: 'fixed', value: rule.amount, currency }
  const percent = Number(rule.percent)
  if (!rule.recurring) return { trigger: 'first', eventType: 'sale', type: 'percent', value: percent }
  return {
    trigger: 'every',
    eventType: 'sale',
    type: 'percent',
    value: percent,
    recurring: true,
    ...(rule.recurring.months !== undefined ? { recurringMonths: rule.recurring.months } : {}),
    ...(rule.stepDown ? { stepDown: { afterMonths: rule.stepDown.afterMonths, value: Number(rule.stepDown.percent) } } : {}),
  }
}

function rulesOf(commissionRule: SubRuleInput | SubRuleInput[]): RuleInput[] {
  const list = Array.isArray(commissionRule) ? commissionRule : [commissionRule]
  const seen = new Set<string>()
  return list.map((sub, i) => {
    const at = Array.isArray(commissionRule) ? `commissionRule.${i}` : 'commissionRule'
    const rule = ruleOf(sub, at)
    if (seen.has(rule.on)) throw bad(at, `a second rule for ${rule.on === 'sale' ? 'sales' : 'sign-ups'}: partnerd pays one rule per event`)
    seen.add(rule.on)
    return rule
  })
}

/**
 * One OpenPartner sub-rule as partnerd's rule with the same meaning, or a 400 invalid_rules naming
 * `at`: the requests' translation, and the import bundle's (which notes a refused rule and leaves it out).
 */
export function ruleOf(sub: SubRuleInput, at: string): RuleInput {
  const trigger = sub.trigger ?? 'every'
  const on = sub.eventType === undefined ? 'sale' : triggerOf(sub.eventType)
  if (on !== 'signup' && on !== 'sale') {
    throw bad(
      `${at}.eventType`,
      `${sub.eventType} earns nothing in partnerd: name a sign-up (signup, lead) or a sale (sale, purchase, invoice_paid, opportunity_won)`,
    )
  }
  if (trigger === 'subsequent') {
    throw bad(`${at}.trigger`, 'subsequent has no equivalent: pay every sale (trigger every), with stepDown for a lower later rate')
  }
  if (trigger === 'first' && sub.eventType === undefined) throw bad(`${at}.eventType`, 'trigger first needs an eventType')
  if (sub.recurringMonths !== undefined && !sub.recurring) throw bad(`${at}.recurringMonths`, 'recurringMonths requires recurring: true')
  if (sub.type === 'fixed') {
    if (sub.recurring || sub.stepDown) throw bad(`${at}.recurring`, 'a fixed amount is paid once; recurring rules are percentages')
    if (on === 'sale' && trigger !== 'first') {
      throw bad(`${at}.trigger`, 'a fixed amount is paid on a customer’s first sale (trigger first) or sign-up, not on every event')
    }
    return { on, amount: amountText(sub.value, `${at}.value`), ...(sub.currency !== undefined ? { currency: sub.currency } : {}) }
  }
  if (sub.currency !== undefined) throw bad(`${at}.currency`, 'a percentage has no currency')
  const percent = percentText(sub.value, `${at}.value`)
  if (on === 'signup') throw bad(`${at}.type`, 'a percentage needs a sale to take it from; pay sign-ups a fixed amount')
  if (trigger === 'first') {
    if (sub.recurring || sub.stepDown) throw bad(`${at}.recurring`, 'trigger first pays the first sale only; trigger every pays each one')
    return { on: 'sale', percent }
  }
  if (sub.recurringMonths !== undefined && sub.recurringMonths > MAX_RECURRING_MONTHS) {
    throw bad(`${at}.recurringMonths`, `at most ${MAX_RECURRING_MONTHS} months; leave it out to pay for life`)
  }
  return {
    on: 'sale',
    percent,
    recurring: sub.recurringMonths !== undefined ? { months: sub.recurringMonths } : { lifetime: true },
    ...(sub.stepDown
      ? { stepDown: { afterMonths: sub.stepDown.afterMonths, percent: percentText(sub.stepDown.value, `${at}.stepDown.value`) } }
      : {}),
  }
}

/** The currency a new program's fixed amounts name, if any (more than one is refused). */
function currencyOfAmounts(rules: RuleInput[]): string | undefined {
  const named = [...new Set(rules.map((r) => r.currency).filter((c) => c !== undefined))]
  if (named.length > 1) throw bad('commissionRule', `fixed amounts in ${named.join(' and ')}: a program pays in one currency`)
  return named[0]
}

/** OpenPartner's amounts are numbers; partnerd's are decimal strings, judged against the currency by the rules. */
function amountText(value: number | string, field: string): string {
  if (typeof value === 'string') return value
  if (!(value > 0)) throw bad(field, `a fixed amount above 0 (got ${value})`)
  return decimalOf(value)
}

function percentText(value: number | string, field: string): string {
  const text = typeof value === 'number' ? decimalOf(value) : value
  parsePercent(text, field)
  return text
}

function bad(field: string, detail: string): AppError {
  return new AppError(400, 'invalid_rules', `${field}: ${detail}`)
}

function bothGiven(ours: string, theirs: string): AppError {
  return new AppError(400, 'invalid_request', `body: give ${ours} or ${theirs}, not both`)
}

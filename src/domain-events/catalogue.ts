/**
 * Every domain event type the core raises, and what it means. The bus refuses a subscription to a
 * type that is neither here nor declared by a loaded plugin (`events` in its definition), so a typo
 * such as `partner.create` stops the start instead of never firing. The console's webhook form
 * offers this list.
 */
export const CORE_EVENTS = {
  'tenant.created': 'An organization was created',
  'tenant.updated': 'The organization’s name or default currency changed',
  'tenant.imported': 'An export was imported into the organization',
  'member.added': 'A person joined the organization’s team',
  'api_key.created': 'An API key was minted',
  'api_key.revoked': 'An API key was revoked',
  'program.created': 'A program was created',
  'program.updated': 'A program’s settings or status changed',
  'partner.created': 'A partner was added',
  'partner.updated': 'A partner’s email, name or metadata changed',
  'partner.invited': 'A partner was invited to the portal',
  'partner.accepted': 'A partner accepted its invitation: its portal user signed in for the first time',
  'partner.enrolled': 'A partner joined a program',
  'partner.revoked': 'A partner was revoked',
  'partner.activated': 'A revoked partner was reinstated',
  'link.created': 'A referral link was created',
  'link.archived': 'A referral link was archived',
  'coupon.created': 'A coupon code was given to a partner',
  'coupon.archived': 'A coupon code was deactivated (it redeems no more; its history stays)',
  'event.recorded': 'A conversion event (sign-up, sale, refund…) was recorded',
  'attribution.created': 'A conversion was credited to partners',
  'commission.accrued': 'A commission was earned and waits out its holdback',
  'commission.flagged': 'A commission was held for review (revoked partner, velocity, self-referral)',
  'commission.approved': 'A commission was approved for payout',
  'commission.reversed': 'A commission was reversed (a refund, or rejected on review)',
  'commission.voided': 'A commission was voided',
  'commission.paid': 'A commission was paid out',
  'payout.created': 'A payout run made a pending payout',
  'payout.paid': 'A payout was marked paid',
  'payout.failed': 'A payout was marked failed; its commissions go to the next run',
  'webhook.endpoint_disabled': 'A webhook endpoint was switched off after failing',
} as const satisfies Record<string, string>

export type CoreEventType = keyof typeof CORE_EVENTS

/** `area.what_happened`: the shape of every event type, core or plugin. */
export const EVENT_TYPE = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*$/

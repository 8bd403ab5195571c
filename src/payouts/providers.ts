/**
 * Payment providers, behind one interface. A payout run makes pending payouts and hands them to the
 * provider its `method` names; the provider answers, for each, whether it is paid (with the
 * provider's reference), failed, or still pending (the money moves later: by hand, or when the
 * provider reports back). `manual` is built in: it pays nothing and leaves every payout pending for
 * POST /payouts/mark-paid. Plugins add others (host.addPayoutProvider).
 */
export interface PayoutRequest {
  id: string
  partnerId: string
  email: string
  amount: string
  currency: string
}

export type PayoutOutcome =
  | { id: string; status: 'pending' }
  | { id: string; status: 'paid'; reference: string }
  | { id: string; status: 'failed'; reason: string }

export interface PayoutProvider {
  /** Stored on each payout as its `method`. Lower-case letters, digits and hyphens. */
  name: string
  /** Called after the run committed, outside any transaction (providers call the network). */
  submit(payouts: PayoutRequest[]): Promise<PayoutOutcome[]>
}

export const manualProvider: PayoutProvider = {
  name: 'manual',
  submit: async (payouts) => payouts.map((p) => ({ id: p.id, status: 'pending' as const })),
}

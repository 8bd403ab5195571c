/**
 * A status as a short word with a colour and a shape (✓ ◷ ✕ ⚑ ○), never colour alone. The words are
 * the reader's: "Waiting out the refund window", not "accrued".
 */
type Tone = 'ok' | 'warn' | 'bad' | 'flag' | 'neutral'

const TONES: Record<string, [Tone, string]> = {
  // commissions
  accrued: ['warn', 'In holdback'],
  flagged: ['flag', 'Flagged'],
  approved: ['ok', 'Approved'],
  paid: ['ok', 'Paid'],
  reversed: ['bad', 'Reversed'],
  voided: ['neutral', 'Voided'],
  // payouts
  pending: ['warn', 'Pending'],
  failed: ['bad', 'Failed'],
  // programs
  draft: ['neutral', 'Draft'],
  active: ['ok', 'Active'],
  paused: ['warn', 'Paused'],
  archived: ['neutral', 'Archived'],
  // partners
  revoked: ['bad', 'Revoked'],
  invited: ['warn', 'Invited'],
  // webhooks
  delivered: ['ok', 'Delivered'],
  enabled: ['ok', 'On'],
  disabled: ['neutral', 'Off'],
  // keys
  live: ['ok', 'Live'],
  expired: ['neutral', 'Expired'],
}

export function Status({ value, label }: { value: string; label?: string }) {
  const [tone, word] = TONES[value] ?? ['neutral', value]
  return <span class={`status ${tone}`}>{label ?? word}</span>
}

/**
 * CSV exports of payouts: a generic file for a spreadsheet or bank, and PayPal's mass-payment (Payouts)
 * format: no header; recipient email, amount, currency, a unique id, and a note.
 */
import { toCsv } from '../data/csv.ts'
import { readMinor, type StoredInteger } from '../db/codec.ts'
import { formatAmount } from '../money/money.ts'

interface ExportRow {
  id: string
  partner_id: string
  email: string
  name: string | null
  currency: string
  amount_minor: StoredInteger
  commission_count: number
  status: string
  reference: string | null
  created_at: string
  paid_at: string | null
}

export function genericCsv(rows: ExportRow[]): string {
  const header = [
    'payout_id',
    'partner_id',
    'email',
    'name',
    'amount',
    'currency',
    'commissions',
    'status',
    'reference',
    'created_at',
    'paid_at',
  ]
  return toCsv([
    header,
    ...rows.map((r) => [
      r.id,
      r.partner_id,
      r.email,
      r.name,
      formatAmount(readMinor(r.amount_minor), r.currency),
      r.currency,
      r.commission_count,
      r.status,
      r.reference,
      r.created_at,
      r.paid_at,
    ]),
  ])
}

export function paypalCsv(rows: ExportRow[], note: string): string {
  return toCsv(rows.map((r) => [r.email, formatAmount(readMinor(r.amount_minor), r.currency), r.currency, r.id, note]))
}

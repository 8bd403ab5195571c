/**
 * CSV for spreadsheets and banks: RFC 4180 quoting, CRLF line ends, and cells that a spreadsheet would
 * run as a formula (starting with =, +, -, @, tab or CR) prefixed with a quote, so an email or a name
 * typed by a partner cannot become a formula in the operator's spreadsheet. Negative amounts stay numbers.
 */
export type Cell = string | number | null

function cell(value: Cell): string {
  let text = value === null ? '' : String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text) && !/^-\d+(\.\d+)?$/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

export function toCsv(rows: Cell[][]): string {
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + (rows.length ? '\r\n' : '')
}

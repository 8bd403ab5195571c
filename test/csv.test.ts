import { describe, expect, it } from 'vitest'
import { toCsv } from '../src/data/csv.ts'

describe('CSV exports', () => {
  it('quotes what needs quoting and defuses formulas, keeping negative amounts as numbers', () => {
    expect(toCsv([['a,b', 'say "hi"', 'line\nbreak', null, 3]])).toBe('"a,b","say ""hi""","line\nbreak",,3\r\n')
    expect(toCsv([['=HYPERLINK("http://evil.example")', '+1', '@SUM(A1)', '-2+3', '-20.00']])).toBe(
      `"'=HYPERLINK(""http://evil.example"")",'+1,'@SUM(A1),'-2+3,-20.00\r\n`,
    )
    expect(toCsv([])).toBe('')
  })
})

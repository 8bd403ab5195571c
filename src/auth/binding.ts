/**
 * Keys bound to one program (the Partnero model: a key per program). Every route that lists, reads or
 * writes program data passes the program the request names through `confineProgram`: a bound key
 * gets its own program whatever it asked for, and another program is answered as not found, as a
 * foreign tenant's would be.
 */
import { AppError } from '../errors.ts'
import type { Principal } from './principal.ts'

/** The program the request may use: the bound one, or the one it named (undefined: any). */
export function confineProgram(principal: Principal, requested: string | undefined): string | undefined {
  if (!principal.programId) return requested
  if (requested !== undefined && requested !== principal.programId) throw new AppError(404, 'not_found', `no program ${requested}`)
  return principal.programId
}

/** For a record read by id: refuses it when it belongs to a program the principal is not bound to. */
export function assertInProgram<T extends { programId: string }>(principal: Principal, record: T): T {
  if (principal.programId && record.programId !== principal.programId) throw new AppError(404, 'not_found', 'not found')
  return record
}

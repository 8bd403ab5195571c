import { AppError } from '../errors.ts'

const CHALLENGE = 'Bearer realm="partnerd"'

/** 401 for a missing credential: the challenge tells the client which scheme to use. */
export function unauthenticated(detail = 'authentication required'): AppError {
  return new AppError(401, 'unauthorized', detail, { 'www-authenticate': CHALLENGE })
}

/** 401 for a credential that was presented but is not good; the same answer whatever the reason. */
export function invalidCredential(detail = 'the credential is invalid, expired or revoked'): AppError {
  return new AppError(401, 'invalid_credentials', detail, { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` })
}

export function insufficientScope(missing: readonly string[]): AppError {
  return new AppError(403, 'insufficient_scope', `this credential lacks the scope ${missing.join(', ')}`, {
    'www-authenticate': `${CHALLENGE}, error="insufficient_scope", scope="${missing.join(' ')}"`,
  })
}

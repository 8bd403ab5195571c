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

/**
 * 403 for a credential without the scope a route needs. The body's code is OpenPartner's
 * (`forbidden_scope`, with the scope `required`, space-separated when several are missing): its
 * clients test for it. RFC 6750's `insufficient_scope`, the code partnerd answered before, stays in
 * the challenge, where OAuth clients read it, with the scopes wanted.
 */
export function insufficientScope(missing: readonly string[]): AppError {
  const required = missing.join(' ')
  return new AppError(
    403,
    'forbidden_scope',
    `this credential lacks the scope ${missing.join(', ')}`,
    { 'www-authenticate': `${CHALLENGE}, error="insufficient_scope", scope="${required}"` },
    { required },
  )
}

/** 403 for a partner reaching for another partner's data (a partner reads its own only). */
export function notThisPartner(): AppError {
  return new AppError(403, 'forbidden', "a partner's credential reaches that partner's own data only")
}

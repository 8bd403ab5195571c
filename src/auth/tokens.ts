/**
 * Access tokens as a way to answer a sign-in. Most sign-ins answer with the session cookie; some
 * dialects' clients expect a JWT and a refresh token instead (PartnersMy's dashboard after a magic
 * code or a social sign-in, Vobiz's `POST /login`). The plugin that mints tokens (`jwt`) registers
 * itself here once; any sign-in plugin then answers with tokens through `host.identity.issueTokens`,
 * without knowing which plugin made them.
 */
import { AppError, StartupError } from '../errors.ts'

/** What a token sign-in answers: the body's `tokens`, and the refresh token's cookie. */
export interface IssuedTokens {
  tokens: { access_token: string; token_type: 'Bearer'; expires_in: number; refresh_token: string }
  /** Set-Cookie value carrying the refresh token (HttpOnly), scoped to the refresh route. */
  setCookie: string
}

export interface TokenIssuer {
  /** Starts a refresh family for the member and mints its first access token; `apiBase` is `/api` or `/api/t/<slug>`. */
  issue(input: { tenantId: string; userId: string; apiBase: string }): Promise<IssuedTokens>
}

/** The one token issuer of a server, if a plugin offers one. */
export class TokenIssuers {
  #current?: { owner: string; issuer: TokenIssuer }

  add(owner: string, issuer: TokenIssuer): void {
    if (this.#current) throw new StartupError(`${owner}: ${this.#current.owner} already issues access tokens`)
    this.#current = { owner, issuer }
  }

  get available(): boolean {
    return this.#current !== undefined
  }

  issue(input: { tenantId: string; userId: string; apiBase: string }): Promise<IssuedTokens> {
    if (!this.#current) throw new AppError(404, 'tokens_unavailable', 'this server issues no access tokens (the jwt plugin is off)')
    return this.#current.issuer.issue(input)
  }
}

/**
 * OpenPartner's links: `POST /partners/:id/links {linkKey, programId, destinationUrl?}` and
 * `GET /partners/:id/links`, beside partnerd's `/links`. The same links, in OpenPartner's names:
 * its `linkKey` is partnerd's `key` (answered under both), a key in use is its 409 `linkKey_taken`
 * rather than partnerd's `key_taken`, and a destinationUrl off the program's hosts its 400
 * `destination_override_not_allowed`. A destinationUrl must be on the program's destination host or
 * one of its deep-link hosts (OpenPartner's deepLinkAllowedDomains), as for any link.
 */
import { t } from 'elysia'
import { AppError } from '../errors.ts'
import { LINK_KEY_PATTERN, type Link } from './service.ts'

export const OpenPartnerLinkBody = t.Object(
  {
    linkKey: t.String({ pattern: LINK_KEY_PATTERN, description: '3–64 letters, digits, - or _: the path segment of /r/<linkKey>.' }),
    programId: t.String({ maxLength: 64 }),
    destinationUrl: t.Optional(
      t.String({ maxLength: 2048, description: "A deep link on the program's destination host or one of its deep-link hosts." }),
    ),
  },
  { additionalProperties: false },
)

/** partnerd's createLink input for the partner in the path. */
export function linkInput(partnerId: string, body: typeof OpenPartnerLinkBody.static) {
  return {
    partnerId,
    programId: body.programId,
    key: body.linkKey,
    ...(body.destinationUrl !== undefined ? { destinationUrl: body.destinationUrl } : {}),
  }
}

/** The link with OpenPartner's name for its key. */
export function linkAnswer(link: Link): Link & { linkKey: string } {
  return { ...link, linkKey: link.key }
}

/** partnerd's refusals that OpenPartner names otherwise, by its names; the others pass as they are. */
const OPENPARTNER_CODES: Record<string, string> = {
  key_taken: 'linkKey_taken',
  destination_not_allowed: 'destination_override_not_allowed',
}

export function inOpenPartnerTerms(err: unknown): unknown {
  const code = err instanceof AppError ? OPENPARTNER_CODES[err.code] : undefined
  return code ? new AppError((err as AppError).status, code, (err as AppError).detail) : err
}

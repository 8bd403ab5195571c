/** Every page of the console, by area; each area's file holds its pages and their actions. */
import type { ConsoleRoute } from '../routes.tsx'
import { accountPages } from './account.tsx'
import { commissionPages } from './commissions.tsx'
import { credentialPages } from './credentials.tsx'
import { keyPages } from './keys.tsx'
import { linkPages } from './links.tsx'
import { overviewPages } from './overview.tsx'
import { partnerPages } from './partners.tsx'
import { payoutPages } from './payouts.tsx'
import { programPages } from './programs.tsx'
import { settingsPages } from './settings.tsx'
import { teamPages } from './team.tsx'
import { webhookPages } from './webhooks.tsx'

export function adminRoutes(): ConsoleRoute[] {
  return [
    ...overviewPages,
    ...programPages,
    ...partnerPages,
    ...linkPages,
    ...commissionPages,
    ...payoutPages,
    ...webhookPages,
    ...keyPages,
    ...credentialPages,
    ...teamPages,
    ...settingsPages,
    ...accountPages,
  ]
}

/** Every page of the console, by part; each part's file holds its pages and their actions. */
import type { ConsoleRoute, PageArea } from '../routes.tsx'
import { accountPages } from './account.tsx'
import { commissionPages } from './commissions.tsx'
import { credentialPages } from './credentials.tsx'
import { keyPages } from './keys.tsx'
import { consolePage } from './layout.tsx'
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

/** The console: the organization's own people (owners, admins, members, viewers), not its partners. */
export const consoleArea: PageArea = {
  prefix: '/admin',
  routes: adminRoutes(),
  admits: (principal) => principal.role !== 'partner',
  refusal: { title: 'This is the program’s console', text: 'Partners follow their links and earnings in the partner portal.' },
  errorPage: (page, status, title, text) => consolePage(page, { title, section: 'overview', status }, [<h1>{title}</h1>, <p>{text}</p>]),
}

/**
 * A console page inside the frame: the navigation with the counts that ask for work (flagged
 * commissions to review, payouts to confirm), the organization and the person's menu.
 */
import type { ComponentChildren } from 'preact'
import { organizationsOf } from '../../users/organizations.ts'
import { Document } from '../components/document.tsx'
import { Frame, type NavItem } from '../components/frame.tsx'
import { BADGE_CAP } from '../console-reads.ts'
import { htmlPage, type MemberPage } from '../context.ts'

export type Section =
  | 'overview'
  | 'programs'
  | 'partners'
  | 'links'
  | 'commissions'
  | 'payouts'
  | 'webhooks'
  | 'keys'
  | 'team'
  | 'settings'
  | 'account'

export interface ConsolePageOptions {
  title: string
  section: Section
  status?: number
}

export async function consolePage(page: MemberPage, options: ConsolePageOptions, body: ComponentChildren): Promise<Response> {
  const { to } = page.paths
  // Remembered per tenant for a few seconds, and forgotten by the changes that move them (console-reads.ts).
  const badges = await page.deps.reads.badges(page)
  const counts = {
    flagged: page.can('commissions:read') ? badges.flagged : 0,
    pendingPayouts: page.can('payouts:read') ? badges.pendingPayouts : 0,
  }
  // Multi mode: the person's other organizations, one click away (their consoles, same session).
  const others =
    page.deps.config.mode === 'multi'
      ? (await organizationsOf(page.deps.database, page.user.id))
          .filter((o) => o.slug !== page.tenant.slug)
          .map((o) => ({ name: o.name, href: `/t/${o.slug}/admin` }))
      : []
  const nav: NavItem[][] = [
    [
      { section: 'overview', label: 'Overview', href: page.paths.admin },
      { section: 'programs', label: 'Programs', href: to('/programs') },
      { section: 'partners', label: 'Partners', href: to('/partners') },
      { section: 'links', label: 'Links', href: to('/links') },
      {
        section: 'commissions',
        label: 'Commissions',
        href: to('/commissions'),
        count: counts.flagged,
        countText: counts.flagged >= BADGE_CAP ? `${BADGE_CAP - 1}+` : undefined,
        countLabel: 'flagged for review',
      },
      { section: 'payouts', label: 'Payouts', href: to('/payouts'), count: counts.pendingPayouts, countLabel: 'pending payouts' },
    ],
    [
      { section: 'webhooks', label: 'Webhooks', href: to('/webhooks') },
      { section: 'keys', label: 'API keys', href: to('/keys') },
      { section: 'team', label: 'Team', href: to('/team') },
      { section: 'settings', label: 'Settings', href: to('/settings') },
    ],
  ]
  return htmlPage(
    page,
    <Document title={`${options.title} · ${page.tenant.name} · partnerd`} locale={page.fmt.locale} assets={page.assets} csrf={page.csrf}>
      <Frame
        brand={{ label: 'partnerd', href: page.paths.admin }}
        nav={nav}
        current={options.section}
        organization={{ name: page.tenant.name, others }}
        person={{ email: page.user.email, accountHref: to('/account'), signOutAction: `${page.paths.root}/sign-out` }}
        csrf={page.csrf}
        flash={page.flash}
      >
        {body}
      </Frame>
    </Document>,
    options.status,
  )
}

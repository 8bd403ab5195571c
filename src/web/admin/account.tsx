/** The signed-in person's own page: who they are here, their sessions, and signing out everywhere. */
import { clearCookieHeaders, sessionCookie } from '../../auth/sessions/cookie.ts'
import { endAllSessions, endSession, listSessions } from '../../auth/sessions/service.ts'
import { AppError } from '../../errors.ts'
import { Csrf } from '../components/field.tsx'
import { PageHead } from '../components/page-head.tsx'
import { DataTable } from '../components/table.tsx'
import { Time } from '../components/time.tsx'
import { type MemberPage, redirectTo } from '../context.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'

async function accountPage(page: MemberPage): Promise<Response> {
  const sessions = await listSessions(page.deps.database.db, page.user.id)
  const current = page.principal.sessionId
  return consolePage(page, { title: 'Your account', section: 'account' }, [
    <PageHead title="Your account" />,
    <dl class="summary">
      <dt>Email</dt>
      <dd>{page.user.email}</dd>
      <dt>Name</dt>
      <dd>{page.user.name ?? <span class="muted">—</span>}</dd>
      <dt>Role in {page.tenant.name}</dt>
      <dd>{page.principal.role}</dd>
    </dl>,
    <h2>Where you are signed in</h2>,
    <DataTable
      caption="Your sessions"
      rows={sessions.slice().reverse()}
      rowId={(s) => `session-${s.id}`}
      columns={[
        {
          label: 'Device',
          cell: (s) => (s.id === current ? [s.userAgent ?? 'Unknown', <strong> (this one)</strong>] : (s.userAgent ?? 'Unknown')),
        },
        { label: 'Address', cell: (s) => s.ip ?? '—' },
        { label: 'Signed in', cell: (s) => <Time at={s.createdAt} fmt={page.fmt} /> },
        { label: 'Last seen', cell: (s) => <Time at={s.lastSeenAt} fmt={page.fmt} /> },
        {
          label: 'Actions',
          hiddenLabel: true,
          cell: (s) =>
            s.id === current ? null : (
              <form method="post" action={page.paths.to(`/account/sessions/${s.id}/end`)}>
                <Csrf token={page.csrf} />
                <button type="submit" class="secondary outline small">
                  Sign out there
                </button>
              </form>
            ),
        },
      ]}
    />,
    <form method="post" action={page.paths.to('/account/sign-out-everywhere')}>
      <Csrf token={page.csrf} />
      <button type="submit" class="contrast">
        Sign out everywhere
      </button>
      <small class="hint">Ends all {sessions.length} of your sessions, this one included.</small>
    </form>,
  ])
}

export const accountPages: ConsoleRoute[] = [
  { method: 'GET', path: '/account', handle: accountPage },
  {
    method: 'POST',
    path: '/account/sessions/:id/end',
    handle: async (page) => {
      if (!(await endSession(page.deps.database.db, page.user.id, page.params.id!)))
        throw new AppError(404, 'not_found', 'There is no such session of yours.')
      await page.deps.identity.audit(page.tenant.id, { type: 'session.revoked', actor: page.user.id, subject: page.params.id, ip: page.ip })
      return redirectTo(page, page.paths.to('/account'), { kind: 'ok', text: 'That session is signed out.' })
    },
  },
  {
    method: 'POST',
    path: '/account/sign-out-everywhere',
    handle: async (page) => {
      const ended = await endAllSessions(page.deps.database.db, page.user.id)
      await page.deps.identity.audit(page.tenant.id, {
        type: 'session.signed_out_everywhere',
        actor: page.user.id,
        ip: page.ip,
        detail: { sessions: ended },
      })
      return redirectTo(
        page,
        page.paths.signIn,
        { kind: 'ok', text: `Signed out of all ${ended} sessions.` },
        clearCookieHeaders(sessionCookie(page.deps.config)),
      )
    },
  },
]

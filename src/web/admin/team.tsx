/**
 * Team: the organization's people and their roles; inviting someone (a new account gets a one-time
 * link, mailed to them and shown once here, to choose a password); changing a role; removing someone.
 * The members service keeps the guards: only owners make or unmake owners, the last owner stays.
 */
import { ROLES, type Role } from '../../auth/roles.ts'
import { AppError } from '../../errors.ts'
import { addMember, changeRole, listMembers, removeMember } from '../../members/service.ts'
import { accountLink, issueInvitation } from '../../users/account-links.ts'
import { Confirm } from '../components/confirm.tsx'
import { Csrf, ErrorSummary, Input, Select } from '../components/field.tsx'
import { PageHead } from '../components/page-head.tsx'
import { ShownOnce } from '../components/secret.tsx'
import { DataTable } from '../components/table.tsx'
import { Time } from '../components/time.tsx'
import { type MemberPage, redirectTo } from '../context.ts'
import { defined, errorsOf, type FieldErrors } from '../forms.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'

const TEAM_ROLES = ROLES.filter((r) => r !== 'partner')
export const ROLE_WORDS: Record<Exclude<Role, 'partner'>, string> = {
  owner: 'Owner: everything, owners included',
  admin: 'Admin: everything but making or removing owners',
  member: 'Member: partners, links and commissions; not keys, team or payouts',
  viewer: 'Viewer: sees every page, changes nothing',
}

async function list(page: MemberPage): Promise<Response> {
  const members = (await page.withTenant((scope) => listMembers(scope))).filter((m) => m.role !== 'partner')
  const admin = page.can('*')
  const { fmt, paths } = page
  const mayTouch = (role: Role) => admin && (role !== 'owner' || page.principal.role === 'owner')
  return consolePage(page, { title: 'Team', section: 'team' }, [
    <PageHead title="Team">
      {admin && (
        <a class="button" href={paths.to('/team/invite')}>
          Invite someone
        </a>
      )}
    </PageHead>,
    <DataTable
      caption="The team"
      rows={members}
      rowId={(m) => `member-${m.userId}`}
      columns={[
        { label: 'Person', cell: (m) => (m.name ? [m.name, <br />, <small class="muted">{m.email}</small>] : m.email) },
        {
          label: 'Role',
          cell: (m) =>
            mayTouch(m.role) ? (
              <form method="post" action={paths.to(`/team/${m.userId}/role`)} class="filters">
                <Csrf token={page.csrf} />
                <label for={`role-${m.userId}`} class="visually-hidden">
                  Role of {m.email}
                </label>
                <select id={`role-${m.userId}`} name="role">
                  {TEAM_ROLES.filter((r) => r !== 'owner' || page.principal.role === 'owner').map((r) => (
                    <option value={r} selected={r === m.role}>
                      {r}
                    </option>
                  ))}
                </select>
                <button type="submit" class="secondary outline small">
                  Change
                </button>
              </form>
            ) : (
              m.role
            ),
        },
        { label: 'Since', cell: (m) => <Time at={m.since} fmt={fmt} /> },
        {
          label: 'Actions',
          hiddenLabel: true,
          cell: (m) =>
            mayTouch(m.role) &&
            m.userId !== page.user.id && (
              <a class="button secondary outline small" href={paths.to(`/team/${m.userId}/remove`)}>
                Remove…
              </a>
            ),
        },
      ]}
    />,
    <h2>Roles</h2>,
    <dl class="summary">
      {TEAM_ROLES.map((r) => (
        <>
          <dt>{r}</dt>
          <dd>{ROLE_WORDS[r].split(': ')[1]}</dd>
        </>
      ))}
    </dl>,
  ])
}

async function inviteForm(
  page: MemberPage,
  values: Record<string, string> = {},
  errors: FieldErrors = {},
  status = 200,
): Promise<Response> {
  return consolePage(page, { title: 'Invite someone', section: 'team', status }, [
    <PageHead title="Invite someone" crumbs={[{ label: 'Team', href: page.paths.to('/team') }]} />,
    <form method="post" action={page.paths.to('/team/invite')} class="narrow">
      <Csrf token={page.csrf} />
      <ErrorSummary errors={errors} labels={{ email: 'Email', role: 'Role' }} />
      <Input name="email" label="Email" type="email" required value={values.email} error={errors.email} />
      <Input name="name" label="Name" value={values.name} error={errors.name} />
      <Select
        name="role"
        label="Role"
        required
        value={values.role ?? 'viewer'}
        error={errors.role}
        options={TEAM_ROLES.filter((r) => r !== 'owner' || page.principal.role === 'owner').map((r) => ({
          value: r,
          label: ROLE_WORDS[r],
        }))}
      />
      <button type="submit">Invite</button>
    </form>,
  ])
}

async function invite(page: MemberPage): Promise<Response> {
  const form = page.form!
  const input = defined({ email: form.text('email'), name: form.text('name'), role: form.text('role') })
  const errors: FieldErrors = defined({
    email: input.email ? undefined : 'Enter their email',
    role: input.role && (TEAM_ROLES as readonly string[]).includes(input.role) ? undefined : 'Choose a role',
  }) as FieldErrors
  if (Object.keys(errors).length === 0) {
    try {
      const { member, link } = await page.withTenant(async (scope) => {
        const member = await addMember(scope, input as { email: string; role: string }, page.principal, {
          id: page.principal.id,
          ip: page.ip,
        })
        const user = await scope.db.selectFrom('users').select('password_hash').where('id', '=', member.userId).executeTakeFirstOrThrow()
        // Someone new (no password yet) chooses one through a one-time link; an existing account just signs in.
        if (user.password_hash !== null) return { member, link: undefined }
        const { token } = await issueInvitation(scope, member.userId)
        return {
          member,
          link: accountLink(page.deps.config.server.public_url, page.deps.config.mode, page.tenant.slug, 'invitation', token),
        }
      })
      if (!link) {
        return redirectTo(page, page.paths.to('/team'), {
          kind: 'ok',
          text: `${member.email} joined as ${member.role}: they sign in with their account.`,
        })
      }
      await page.deps.mail
        .send({
          to: member.email,
          subject: `You are invited to ${page.tenant.name}`,
          text: `${page.user.name ?? page.user.email} invited you to ${page.tenant.name}'s partner program console, as ${member.role}.\n\nChoose your password with this link (it works once, for 7 days):\n${link}\n`,
        })
        .catch((err) => page.deps.log.warn({ err: (err as Error).message }, 'the invitation mail was not sent'))
      return consolePage(page, { title: 'Invitation sent', section: 'team', status: 201 }, [
        <PageHead title="Invitation sent" crumbs={[{ label: 'Team', href: page.paths.to('/team') }]} />,
        <p>
          {member.email} joins as {member.role}. We mailed them this link; you can also send it yourself. It works once, for 7 days.
        </p>,
        <ShownOnce name="invitation" label="Invitation link" value={link} what="link" />,
        <p>
          <a class="button" href={page.paths.to('/team')}>
            Back to the team
          </a>
        </p>,
      ])
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      Object.assign(errors, errorsOf(err, { invalid_email: 'email', already_member: 'email', invalid_role: 'role', forbidden: 'role' }))
    }
  }
  return inviteForm(page, form.values(), errors, 400)
}

async function setRole(page: MemberPage): Promise<Response> {
  const role = page.form!.text('role') ?? ''
  await page.withTenant((scope) => changeRole(scope, page.params.userId!, role, page.principal, { id: page.principal.id, ip: page.ip }))
  return redirectTo(page, page.paths.to('/team'), { kind: 'ok', text: `The role is now ${role}.` })
}

async function confirmRemove(page: MemberPage): Promise<Response> {
  const member = (await page.withTenant((scope) => listMembers(scope))).find((m) => m.userId === page.params.userId)
  if (!member) throw new AppError(404, 'not_found', 'There is no such member.')
  return consolePage(page, { title: `Remove ${member.email}`, section: 'team' }, [
    <PageHead title={`Remove ${member.email}`} crumbs={[{ label: 'Team', href: page.paths.to('/team') }]} />,
    <Confirm
      title={`Remove ${member.email} from ${page.tenant.name}?`}
      action={page.paths.to(`/team/${member.userId}/remove`)}
      fields={[]}
      confirmLabel="Remove them"
      cancelHref={page.paths.to('/team')}
      csrf={page.csrf}
      danger
    >
      <p>They lose access at once. Their account stays (it may belong to other organizations); you can invite them again.</p>
    </Confirm>,
  ])
}

async function remove(page: MemberPage): Promise<Response> {
  await page.withTenant((scope) => removeMember(scope, page.params.userId!, page.principal, { id: page.principal.id, ip: page.ip }))
  return redirectTo(page, page.paths.to('/team'), { kind: 'ok', text: 'They are no longer on the team.' })
}

const admin = ['*' as const]
export const teamPages: ConsoleRoute[] = [
  { method: 'GET', path: '/team', scopes: ['team:read'], handle: list },
  { method: 'GET', path: '/team/invite', scopes: admin, handle: (page) => inviteForm(page) },
  { method: 'POST', path: '/team/invite', scopes: admin, handle: invite },
  { method: 'POST', path: '/team/:userId/role', scopes: admin, handle: setRole },
  { method: 'GET', path: '/team/:userId/remove', scopes: admin, handle: confirmRemove },
  { method: 'POST', path: '/team/:userId/remove', scopes: admin, handle: remove },
]

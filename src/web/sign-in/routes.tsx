/**
 * An organization's public pages, shared by the console and the partner portal: sign-in (by each way
 * a plugin offers: password, a mailed code, a provider's button), signing out, and the first-run
 * setup that makes the owner. A failed sign-in says the same for an unknown and a known email; after
 * signing in, the person lands on the page they asked for, if it is a page of this site.
 */
import type { ComponentChildren } from 'preact'
import { clearCookieHeaders, readSessionToken, sessionCookie, sessionSettings } from '../../auth/sessions/cookie.ts'
import { endSession, resolveSession } from '../../auth/sessions/service.ts'
import type { EmailCodeSignIn, PasswordSignIn, ProviderSignIn } from '../../auth/sign-in-methods.ts'
import { safeNext } from '../../auth/sign-in-methods.ts'
import { AppError } from '../../errors.ts'
import { acceptInvitation, completeSetup, LINK_SPENT, openLink } from '../../users/account-links.ts'
import { PASSWORD_MIN } from '../../users/service.ts'
import { Document } from '../components/document.tsx'
import { ErrorSummary, Input } from '../components/field.tsx'
import { Plain } from '../components/frame.tsx'
import { htmlPage, redirectTo, type TenantPage } from '../context.ts'
import { defined, errorsOf, type FieldErrors, sentence } from '../forms.ts'
import type { PageRoute } from '../routes.tsx'
import { assertCsrf } from '../security.ts'

interface SignInView {
  email?: string
  next: string
  errors?: FieldErrors
  status?: number
}

function page(ctx: TenantPage, title: string, body: ComponentChildren, status = 200): Response {
  return htmlPage(
    ctx,
    <Document title={`${title} · ${ctx.tenant.name} · partnerd`} locale={ctx.fmt.locale} assets={ctx.assets}>
      <Plain title={title} flash={ctx.flash}>
        {body}
      </Plain>
    </Document>,
    status,
  )
}

function methodsOf(ctx: TenantPage) {
  const methods = ctx.deps.signIn
  return {
    password: methods.find((m): m is PasswordSignIn => m.kind === 'password'),
    code: methods.find((m): m is EmailCodeSignIn => m.kind === 'email-code'),
    providers: methods.filter((m): m is ProviderSignIn => m.kind === 'provider'),
  }
}

/** A refusal as the message beside the field: the same words whatever the cause (unknown email, wrong password). */
function signInError(err: unknown, field: string): FieldErrors {
  if (!(err instanceof AppError)) throw err
  if (err.status === 429)
    return { [field]: `Too many attempts. ${sentence(err.detail?.replace(/^too many attempts; /, '') ?? 'Try again later')}` }
  if (err.status === 401)
    return { [field]: field === 'code' ? 'The code is wrong, used or expired.' : 'The email or password is incorrect.' }
  if (err.code === 'partner_revoked') return { '': 'This partner account has been revoked.' }
  return errorsOf(err)
}

function SignInForms({ ctx, view }: { ctx: TenantPage; view: SignInView }) {
  const { password, code, providers } = methodsOf(ctx)
  const signIn = ctx.paths.signIn
  const errors = view.errors ?? {}
  return (
    <>
      <p class="muted">{ctx.tenant.name}</p>
      <ErrorSummary errors={errors} labels={{ email: 'Email', password: 'Password', codeEmail: 'Email' }} />
      {password && (
        <form method="post" action={signIn}>
          <input type="hidden" name="next" value={view.next} />
          <Input name="email" label="Email" type="email" autocomplete="username" required value={view.email} error={errors.email} />
          <Input name="password" label="Password" type="password" autocomplete="current-password" required error={errors.password} />
          <button type="submit">Sign in</button>
        </form>
      )}
      {password && (code || providers.length > 0) && <p class="or">or</p>}
      {code && (
        <form method="post" action={`${signIn}/code`}>
          <input type="hidden" name="next" value={view.next} />
          <Input
            name="codeEmail"
            label={password ? 'Email, for a sign-in code instead' : 'Email'}
            type="email"
            autocomplete="username"
            required
            value={view.email}
            error={errors.codeEmail}
            hint="We mail you a 6-digit code and a link."
          />
          <button type="submit" class={password ? 'secondary' : undefined}>
            Email me a sign-in code
          </button>
        </form>
      )}
      {code && providers.length > 0 && <p class="or">or</p>}
      {providers.flatMap((method) =>
        method.providers.map((provider) => (
          <p>
            <a class="button secondary outline" href={`${ctx.paths.api}${method.startPath(provider.id, view.next)}`}>
              Continue with {provider.label}
            </a>
          </p>
        )),
      )}
      {!password && !code && providers.length === 0 && (
        <p>No way to sign in is switched on. The operator can enable the password, magic or oauth plugin in the configuration.</p>
      )}
    </>
  )
}

function CodeForm({
  ctx,
  attemptId,
  email,
  next,
  error,
}: {
  ctx: TenantPage
  attemptId: string
  email: string
  next: string
  error?: string
}) {
  return (
    <>
      <ErrorSummary errors={error ? { code: error } : {}} labels={{ code: 'Code' }} />
      <p>
        If <strong>{email}</strong> belongs to a member of {ctx.tenant.name}, we have mailed it a 6-digit code and a sign-in link. They work
        once, for a few minutes.
      </p>
      <form method="post" action={`${ctx.paths.signIn}/code/verify`}>
        <input type="hidden" name="attemptId" value={attemptId} />
        <input type="hidden" name="email" value={email} />
        <input type="hidden" name="next" value={next} />
        <Input name="code" label="Code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required error={error} />
        <button type="submit">Sign in</button>
      </form>
      <p>
        <a href={`${ctx.paths.signIn}?next=${encodeURIComponent(next)}`}>Use another email</a>
      </p>
    </>
  )
}

/** Signs the member in: a new session, its cookie, and on to the page they asked for. */
async function signedIn(ctx: TenantPage, userId: string, next: string): Promise<Response> {
  const session = await ctx.deps.identity.startSession({
    userId,
    tenantId: ctx.tenant.id,
    ip: ctx.ip,
    userAgent: ctx.request.headers.get('user-agent'),
  })
  return redirectTo(ctx, safeNext(next, ctx.paths.admin), undefined, [session.setCookie])
}

export function publicRoutes(): PageRoute<TenantPage>[] {
  return [
    {
      method: 'GET',
      path: '/sign-in',
      handle: async (ctx) => {
        const next = safeNext(ctx.url.searchParams.get('next'), ctx.paths.admin)
        return page(ctx, 'Sign in', <SignInForms ctx={ctx} view={{ next }} />)
      },
    },
    {
      method: 'POST',
      path: '/sign-in',
      handle: async (ctx) => {
        const form = ctx.form!
        const email = form.text('email')
        const next = safeNext(form.text('next'), ctx.paths.admin)
        const method = methodsOf(ctx).password
        if (!method) throw new AppError(404, 'not_found', 'signing in with a password is not switched on')
        ctx.deps.identity.assertSameOrigin(ctx.request) // no signing a victim in to the attacker's account
        const missing = defined({
          email: email ? undefined : 'Enter your email',
          password: form.raw('password') ? undefined : 'Enter your password',
        })
        let errors: FieldErrors = missing as FieldErrors
        if (Object.keys(errors).length === 0) {
          try {
            const { userId } = await method.signIn({ tenant: ctx.tenant, email: email!, password: form.raw('password')!, ip: ctx.ip })
            return await signedIn(ctx, userId, next)
          } catch (err) {
            errors = signInError(err, 'password')
          }
        }
        return page(ctx, 'Sign in', <SignInForms ctx={ctx} view={{ email, next, errors }} />, errors.password ? 401 : 400)
      },
    },
    {
      method: 'POST',
      path: '/sign-in/code',
      handle: async (ctx) => {
        const form = ctx.form!
        const email = form.text('codeEmail')
        const next = safeNext(form.text('next'), ctx.paths.admin)
        const method = methodsOf(ctx).code
        if (!method) throw new AppError(404, 'not_found', 'signing in by a mailed code is not switched on')
        ctx.deps.identity.assertSameOrigin(ctx.request)
        if (!email) return page(ctx, 'Sign in', <SignInForms ctx={ctx} view={{ next, errors: { codeEmail: 'Enter your email' } }} />, 400)
        try {
          const { attemptId } = await method.send({ tenant: ctx.tenant, email, ip: ctx.ip, apiBase: ctx.paths.api })
          return page(ctx, 'Enter your code', <CodeForm ctx={ctx} attemptId={attemptId} email={email} next={next} />)
        } catch (err) {
          const errors = signInError(err, 'codeEmail')
          return page(ctx, 'Sign in', <SignInForms ctx={ctx} view={{ email, next, errors }} />, err instanceof AppError ? err.status : 400)
        }
      },
    },
    {
      method: 'POST',
      path: '/sign-in/code/verify',
      handle: async (ctx) => {
        const form = ctx.form!
        const [attemptId, email, code] = [form.text('attemptId') ?? '', form.text('email') ?? '', form.text('code')]
        const next = safeNext(form.text('next'), ctx.paths.admin)
        const method = methodsOf(ctx).code
        if (!method) throw new AppError(404, 'not_found', 'signing in by a mailed code is not switched on')
        ctx.deps.identity.assertSameOrigin(ctx.request)
        let error = code ? undefined : 'Enter the code from the email'
        if (code) {
          try {
            const { userId } = await method.verify({ tenant: ctx.tenant, attemptId, code, ip: ctx.ip })
            return await signedIn(ctx, userId, next)
          } catch (err) {
            error = signInError(err, 'code').code ?? Object.values(signInError(err, 'code'))[0]
          }
        }
        return page(ctx, 'Enter your code', <CodeForm ctx={ctx} attemptId={attemptId} email={email} next={next} error={error} />, 401)
      },
    },
    {
      method: 'POST',
      path: '/sign-out',
      handle: async (ctx) => {
        const cookie = sessionCookie(ctx.deps.config)
        const token = readSessionToken(ctx.request, cookie)
        if (token) {
          assertCsrf(token, ctx.request.headers.get('x-csrf-token') ?? ctx.form?.text('_csrf'))
          const session = await resolveSession(ctx.deps.database, token, sessionSettings(ctx.deps.config))
          if (session) {
            await endSession(ctx.deps.database.db, session.userId, session.id)
            await ctx.deps.identity.audit(ctx.tenant.id, {
              type: 'session.signed_out',
              actor: session.userId,
              subject: session.id,
              ip: ctx.ip,
            })
          }
        }
        return redirectTo(ctx, ctx.paths.signIn, { kind: 'ok', text: 'You are signed out.' }, clearCookieHeaders(cookie))
      },
    },
    {
      method: 'GET',
      path: '/setup',
      handle: async (ctx) => {
        const token = ctx.url.searchParams.get('token') ?? ''
        if (!(await ctx.withTenant((scope) => openLink(scope, 'setup', token)))) return setupSpent(ctx)
        return page(ctx, 'Set up partnerd', <SetupForm ctx={ctx} token={token} values={{}} errors={{}} />)
      },
    },
    {
      method: 'POST',
      path: '/setup',
      handle: async (ctx) => {
        const form = ctx.form!
        ctx.deps.identity.assertSameOrigin(ctx.request)
        const token = form.text('token') ?? ''
        const input = { email: form.text('email'), name: form.text('name'), password: form.raw('password') }
        // With emailed codes on, the owner may go without a password: the setup link proved them now, codes will later.
        const passwordOptional = emailCodes(ctx) && input.password === undefined
        const errors: FieldErrors = defined({
          email: input.email ? undefined : 'Enter your email',
          password:
            !passwordOptional && (input.password?.length ?? 0) < PASSWORD_MIN
              ? `Choose a password of at least ${PASSWORD_MIN} characters`
              : undefined,
          confirm: input.password && form.raw('confirm') !== input.password ? 'The two passwords differ' : undefined,
        }) as FieldErrors
        if (Object.keys(errors).length === 0) {
          try {
            const { userId } = await ctx.withTenant((scope) =>
              completeSetup(scope, token, { email: input.email!, name: input.name, password: input.password }, ctx.ip),
            )
            const session = await ctx.deps.identity.startSession({
              userId,
              tenantId: ctx.tenant.id,
              ip: ctx.ip,
              userAgent: ctx.request.headers.get('user-agent'),
            })
            return redirectTo(ctx, ctx.paths.admin, { kind: 'ok', text: `Welcome: you own ${ctx.tenant.name}. Start with a program.` }, [
              session.setCookie,
            ])
          } catch (err) {
            if (err === LINK_SPENT) return setupSpent(ctx)
            if (!(err instanceof AppError)) throw err
            Object.assign(errors, errorsOf(err, { invalid_email: 'email', email_taken: 'email', weak_password: 'password' }))
          }
        }
        return page(
          ctx,
          'Set up partnerd',
          <SetupForm ctx={ctx} token={token} values={form.values(['password', 'confirm'])} errors={errors} />,
          400,
        )
      },
    },
    {
      method: 'GET',
      path: '/welcome',
      handle: async (ctx) => {
        const token = ctx.url.searchParams.get('token') ?? ''
        const link = await ctx.withTenant((scope) => openLink(scope, 'invitation', token))
        if (!link) return invitationSpent(ctx)
        const user = await ctx.deps.database.db
          .selectFrom('users')
          .select('email')
          .where('id', '=', link.user_id!)
          .executeTakeFirstOrThrow()
        return page(ctx, `Welcome to ${ctx.tenant.name}`, <WelcomeForm ctx={ctx} token={token} email={user.email} errors={{}} />)
      },
    },
    {
      method: 'POST',
      path: '/welcome',
      handle: async (ctx) => {
        const form = ctx.form!
        ctx.deps.identity.assertSameOrigin(ctx.request)
        const token = form.text('token') ?? ''
        const password = form.raw('password')
        const errors: FieldErrors = defined({
          password: (password?.length ?? 0) < PASSWORD_MIN ? `Choose a password of at least ${PASSWORD_MIN} characters` : undefined,
          confirm: password && form.raw('confirm') !== password ? 'The two passwords differ' : undefined,
        }) as FieldErrors
        if (Object.keys(errors).length === 0) {
          try {
            const { userId } = await ctx.withTenant((scope) => acceptInvitation(scope, token, password!, ctx.ip))
            const session = await ctx.deps.identity.startSession({
              userId,
              tenantId: ctx.tenant.id,
              ip: ctx.ip,
              userAgent: ctx.request.headers.get('user-agent'),
            })
            return redirectTo(ctx, ctx.paths.admin, { kind: 'ok', text: `Welcome to ${ctx.tenant.name}.` }, [session.setCookie])
          } catch (err) {
            if (err === LINK_SPENT) return invitationSpent(ctx)
            if (!(err instanceof AppError)) throw err
            Object.assign(errors, errorsOf(err, { weak_password: 'password' }))
          }
        }
        return page(
          ctx,
          `Welcome to ${ctx.tenant.name}`,
          <WelcomeForm ctx={ctx} token={token} email={form.text('email') ?? ''} errors={errors} />,
          400,
        )
      },
    },
  ]
}

function invitationSpent(ctx: TenantPage): Response {
  return page(
    ctx,
    'This invitation no longer works',
    <>
      <p>It was already used, or it is more than 7 days old. Ask whoever invited you to invite you again.</p>
      <p>
        Already chose a password? <a href={ctx.paths.signIn}>Sign in</a>.
      </p>
    </>,
    410,
  )
}

function WelcomeForm({ ctx, token, email, errors }: { ctx: TenantPage; token: string; email: string; errors: FieldErrors }) {
  return (
    <>
      <p>
        You have been invited to {ctx.tenant.name} as <strong>{email}</strong>. Choose a password to sign in with.
      </p>
      <ErrorSummary errors={errors} labels={{ password: 'Password', confirm: 'Password again' }} />
      <form method="post" action={`${ctx.paths.root}/welcome`}>
        <input type="hidden" name="token" value={token} />
        <input type="hidden" name="email" value={email} />
        <Input
          name="password"
          label="Password"
          type="password"
          autocomplete="new-password"
          required
          hint={`At least ${PASSWORD_MIN} characters.`}
          error={errors.password}
        />
        <Input name="confirm" label="Password again" type="password" autocomplete="new-password" required error={errors.confirm} />
        <button type="submit">Choose my password</button>
      </form>
    </>
  )
}

/** Whether people can sign in with a code mailed to them (the `magic` plugin is on). */
function emailCodes(ctx: TenantPage): boolean {
  return ctx.deps.signIn.some((m) => m.kind === 'email-code')
}

function setupSpent(ctx: TenantPage): Response {
  return page(
    ctx,
    'This setup link no longer works',
    <>
      <p>It was already used, or it is more than 24 hours old.</p>
      <p>
        If you are the operator, print a new one with <code>partnerd setup-link</code>. If someone already set up the console,{' '}
        <a href={ctx.paths.signIn}>sign in</a> or ask them to invite you.
      </p>
    </>,
    410,
  )
}

function SetupForm({
  ctx,
  token,
  values,
  errors,
}: {
  ctx: TenantPage
  token: string
  values: Record<string, string>
  errors: FieldErrors
}) {
  const codes = emailCodes(ctx)
  return (
    <>
      <p>You are setting up {ctx.tenant.name}. You will be its owner: you can invite the rest of your team once you are in.</p>
      <ErrorSummary errors={errors} labels={{ email: 'Email', password: 'Password', confirm: 'Password again', name: 'Name' }} />
      <form method="post" action={`${ctx.paths.root}/setup`}>
        <input type="hidden" name="token" value={token} />
        <Input name="name" label="Your name" autocomplete="name" value={values.name} error={errors.name} />
        <Input name="email" label="Email" type="email" autocomplete="email" required value={values.email} error={errors.email} />
        <Input
          name="password"
          label="Password"
          type="password"
          autocomplete="new-password"
          required={!codes}
          hint={
            codes
              ? `At least ${PASSWORD_MIN} characters, or none: then you sign in with a code mailed to you.`
              : `At least ${PASSWORD_MIN} characters. A passphrase is easiest to remember.`
          }
          error={errors.password}
        />
        <Input name="confirm" label="Password again" type="password" autocomplete="new-password" required={!codes} error={errors.confirm} />
        <button type="submit">Create my account</button>
      </form>
    </>
  )
}

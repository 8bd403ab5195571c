/**
 * Starting and stopping the HTTP server over an open runtime. Single mode makes sure its tenant exists
 * and, on the first start of an empty database with no admin key configured, mints an admin API key
 * whose plaintext is returned once for the operator to copy.
 */

import { attributionRoutes } from './attribution/routes.ts'
import { auditRoutes } from './audit/routes.ts'
import { apiKeyRoutes } from './auth/api-keys/routes.ts'
import { mintApiKey } from './auth/api-keys/service.ts'
import { introspectRoutes } from './auth/introspect.ts'
import { keyStrategy } from './auth/key-strategy.ts'
import { sessionRoutes } from './auth/sessions/routes.ts'
import { sessionStrategy } from './auth/sessions/strategy.ts'
import { commissionRoutes } from './commissions/routes.ts'
import { startApprovalJob } from './commissions/scheduler.ts'
import { couponRoutes } from './coupons/routes.ts'
import { dataRoutes } from './data/routes.ts'
import { keepPlannerStatistics } from './db/planner-statistics.ts'
import { StartupError } from './errors.ts'
import { createApp } from './http/app.ts'
import { createClickRouter } from './links/router.ts'
import { linkRoutes } from './links/routes.ts'
import { sdkRoute } from './links/sdk.ts'
import { memberRoutes } from './members/routes.ts'
import { invitations } from './partners/portal.ts'
import { portalRoutes } from './partners/portal-routes.ts'
import { partnerRoutes } from './partners/routes.ts'
import { manualProvider } from './payouts/providers.ts'
import { payoutRoutes } from './payouts/routes.ts'
import { enrolmentRoutes } from './programs/enrolment-routes.ts'
import { programRoutes } from './programs/routes.ts'
import { reportRoutes } from './reports/routes.ts'
import type { Runtime } from './runtime.ts'
import { tenantResolver } from './tenants/resolver.ts'
import { tenantRoutes } from './tenants/routes.ts'
import { ensureDefaultTenant, type Tenant } from './tenants/service.ts'
import { accountLink, issueSetupToken } from './users/account-links.ts'
import { ConsoleReads } from './web/console-reads.ts'
import { webRoutes } from './web/routes.tsx'
import { webhookRoutes } from './webhooks/routes.ts'
import { DeliveryWorker } from './webhooks/worker.ts'

export interface RunningServer {
  url: string
  /** Set when this start minted the first admin key: print it, it is not shown again. */
  bootstrapKey?: string
  /** Set on the first start of an empty organization: the one-time link that makes its owner. */
  setupLink?: string
  stop(): Promise<void>
}

export async function buildApp(runtime: Runtime, singleTenant?: Tenant) {
  const { config } = runtime
  const resolveTenant = tenantResolver(runtime.database.db, singleTenant, runtime.bus)
  const clickRouter = createClickRouter({
    config,
    log: runtime.log,
    database: runtime.database,
    withTenant: runtime.withTenant,
    bus: runtime.bus,
    resolveTenant,
  })
  const partnerInvitations = invitations(config.mode, () => runtime.bus.hasSubscribers('partner.invited'))
  const payoutProviders = new Map([manualProvider, ...runtime.plugins.payoutProviders].map((p) => [p.name, p]))
  const sessions = sessionStrategy(config, runtime.database)
  const pages = webRoutes({
    config,
    log: runtime.log,
    database: runtime.database,
    withTenant: runtime.withTenant,
    resolveTenant,
    sessions,
    identity: runtime.identity,
    mail: runtime.mail,
    signIn: runtime.plugins.signInMethods,
    credentialKinds: runtime.plugins.credentialKinds,
    bus: runtime.bus,
    plugins: runtime.plugins.names.map((p) => p.name),
    payoutProviders,
    reads: new ConsoleReads(runtime.bus),
  })
  // The click writer's threads run from here on: a start refused below (a plugin's route clashing
  // with another's) must stop them, or they outlive the database they write to.
  let app: ReturnType<typeof createApp>
  try {
    app = createApp({
      config,
      log: runtime.log,
      accessLog: runtime.accessLog,
      database: runtime.database,
      withTenant: runtime.withTenant,
      resolveTenant,
      outsideApi: [clickRouter.plugin, sdkRoute, pages],
      nativeRoutes: clickRouter.native,
      strategies: [
        keyStrategy({ adminKeys: runtime.adminKeys, prefix: config.auth.api_key_prefix, database: runtime.database }),
        sessions,
        ...runtime.plugins.strategies,
      ],
      routes: [
        ...[
          tenantRoutes,
          apiKeyRoutes(config.auth.api_key_prefix),
          introspectRoutes,
          sessionRoutes(config, runtime.database),
          memberRoutes,
          auditRoutes,
          partnerRoutes(partnerInvitations),
          programRoutes,
          enrolmentRoutes,
          linkRoutes,
          couponRoutes,
          attributionRoutes(config, runtime.programTerms),
          commissionRoutes,
          payoutRoutes(payoutProviders),
          reportRoutes,
          dataRoutes,
          webhookRoutes(config),
          portalRoutes(config.auth.api_key_prefix, partnerInvitations),
        ].map((register) => ({ owner: 'core', register })),
        ...runtime.plugins.routes,
      ],
    })
  } catch (err) {
    await clickRouter.writer.close()
    throw err
  }
  return { app, clickWriter: clickRouter.writer }
}

export async function startServer(runtime: Runtime): Promise<RunningServer> {
  const { config, log } = runtime
  let singleTenant: Tenant | undefined
  let bootstrapKey: string | undefined
  let firstSetupLink: string | undefined
  if (config.mode === 'single') {
    const { tenant, created } = await ensureDefaultTenant(runtime.database.db, runtime.bus, runtime.secrets)
    singleTenant = tenant
    if (created && runtime.adminKeys.length === 0) {
      const minted = await runtime.withTenant(tenant.id, (scope) =>
        mintApiKey(scope, config.auth.api_key_prefix, { name: 'bootstrap admin', scopes: ['*'] }, { id: 'bootstrap' }),
      )
      bootstrapKey = minted.key
    }
    if (created) {
      const { token } = await runtime.withTenant(tenant.id, (scope) => issueSetupToken(scope))
      firstSetupLink = accountLink(config.server.public_url, config.mode, tenant.slug, 'setup', token)
    }
  } else if (runtime.adminKeys.length === 0) {
    log.warn(
      'no admin key configured (auth.admin_api_keys): create tenants and keys with `partnerd tenant create` and `partnerd key create`',
    )
  }

  const { app, clickWriter } = await buildApp(runtime, singleTenant)
  try {
    app.listen({
      hostname: config.server.host,
      port: config.server.port,
      // A backstop only: the app answers oversized bodies itself with a JSON 413 (see http/app.ts), so
      // Bun's own cap sits above the limit and stops only a stream far past it.
      maxRequestBodySize: config.server.body_limit_bytes * 2,
      // Elysia asks for SO_REUSEPORT by default: a second partnerd started on the same port would
      // then share its connections without a word. An occupied port must fail the start instead.
      reusePort: false,
    })
  } catch (err) {
    await clickWriter.close()
    const e = err as { code?: string; message?: string }
    const reason = e.code === 'EADDRINUSE' || /in use/i.test(e.message ?? '') ? 'is in use' : `cannot be opened: ${e.message}`
    throw new StartupError(`server.port: ${config.server.host}:${config.server.port} ${reason}`)
  }
  const stopStatistics = await keepPlannerStatistics(runtime.database)
  const stopApprovals = startApprovalJob({
    db: runtime.database.db,
    withTenant: runtime.withTenant,
    log,
    intervalSeconds: config.commissions.approve_interval_seconds,
  })
  const deliveries = new DeliveryWorker(runtime.database, runtime.withTenant, config.webhooks, log)
  deliveries.start()
  const server = app.server!
  // The log names the interface as bound (0.0.0.0 is every interface) and, beside it, the address
  // this machine reaches it at and the one users are sent to (links, emails): three different things.
  const wildcard = server.hostname === '0.0.0.0' || server.hostname === '::'
  const url = `http://${wildcard ? '127.0.0.1' : server.hostname}:${server.port}`
  log.info(
    {
      listen: `${server.hostname}:${server.port}`,
      url,
      public_url: config.server.public_url,
      mode: config.mode,
      database: runtime.database.dialect,
      plugins: runtime.plugins.names,
      config: runtime.loaded.source,
    },
    'partnerd listening',
  )
  return {
    url,
    bootstrapKey,
    setupLink: firstSetupLink,
    stop: async () => {
      await app.stop()
      stopStatistics()
      await stopApprovals()
      await deliveries.stop()
      await clickWriter.close()
    },
  }
}

/**
 * Built-in plugins, compiled into the binary. The map is static because a compiled binary cannot
 * import a computed path; each entry loads its plugin only when the config enables it.
 */
import type { PluginDefinition } from '../src/plugins/contract.ts'

export type PluginModule = { default: PluginDefinition<any> }

export interface BuiltinPlugin {
  load: () => Promise<PluginModule>
  /** On unless the config says `enabled: false`; the config may still give it settings. */
  enabledByDefault: boolean
}

export const builtinPlugins: Record<string, BuiltinPlugin> = {
  password: { load: () => import('./password/index.ts'), enabledByDefault: true },
  // Off until configured: it needs a signing secret shared by every instance.
  jwt: { load: () => import('./jwt/index.ts'), enabledByDefault: false },
  // Off until chosen: it sends mail, so the operator decides how (config `mail`).
  magic: { load: () => import('./magic/index.ts'), enabledByDefault: false },
  // Off until providers are configured.
  oauth: { load: () => import('./oauth/index.ts'), enabledByDefault: false },
  // Off until chosen: long-lived credential pairs are a door the operator opens on purpose.
  xauth: { load: () => import('./xauth/index.ts'), enabledByDefault: false },
  // Off until configured: it needs the Stripe endpoint's signing secret.
  stripe: { load: () => import('./stripe/index.ts'), enabledByDefault: false },
  // Off until chosen: the server side of the Zapier integration (integrations/zapier).
  zapier: { load: () => import('./zapier/index.ts'), enabledByDefault: false },
  // Off until chosen: the server side of the ActivePieces piece (integrations/activepieces).
  activepieces: { load: () => import('./activepieces/index.ts'), enabledByDefault: false },
  // Off until sources are configured.
  'crm-webhooks': { load: () => import('./crm-webhooks/index.ts'), enabledByDefault: false },
}

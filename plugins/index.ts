/**
 * Built-in plugins, compiled into the binary. The map is static because a compiled binary cannot
 * import a computed path; each entry loads its plugin only when the config enables it.
 */
import type { PluginDefinition } from '../src/plugins/contract.ts'

export type PluginModule = { default: PluginDefinition<any> }

export const builtinPlugins: Record<string, () => Promise<PluginModule>> = {}

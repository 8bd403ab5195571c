import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig, parseConfig } from '../src/config/load.ts'
import { ConfigSchema } from '../src/config/schema.ts'
import { tempDir } from './support/databases.ts'

const fails =
  (yaml: string, env: Record<string, string> = {}) =>
  () =>
    parseConfig(yaml, env)

describe('config', () => {
  it('runs on defaults alone: single mode, SQLite under ./data, port 8080', () => {
    const config = parseConfig('', {})
    expect(config.mode).toBe('single')
    expect(config.server.port).toBe(8080)
    expect(config.database.sqlite?.path).toBe('./data/partnerd.db')
    expect(config.database.postgres).toBeUndefined()
    expect(config.plugins).toEqual([])
  })

  it('interpolates ${VAR} and ${VAR:-default}, coercing to the type the key wants', () => {
    const yaml = 'server:\n  port: ${PORT}\n  host: ${HOST:-127.0.0.1}\n  trust_proxy: ${TP:-false}'
    const config = parseConfig(yaml, { PORT: '9090', TP: 'true' })
    expect(config.server).toMatchObject({ port: 9090, host: '127.0.0.1', trust_proxy: true })
  })

  it('takes server.trust_proxy as a switch or a count of proxies', () => {
    expect(parseConfig('server:\n  trust_proxy: ${TP}', { TP: '2' }).server.trust_proxy).toBe(2)
    expect(parseConfig('server:\n  trust_proxy: 3', {}).server.trust_proxy).toBe(3)
    const expected = 'server.trust_proxy must be true or false or a whole number from 0 to 10'
    expect(fails('server:\n  trust_proxy: 11')).toThrow(`${expected} (got 11)`)
    expect(fails('server:\n  trust_proxy: nginx')).toThrow(`${expected} (got "nginx")`)
  })

  it('names the key of every mistake', () => {
    expect(fails('server:\n  prot: 1')).toThrow('unknown key server.prot')
    expect(fails('bogus: true')).toThrow('unknown key bogus')
    expect(fails('server:\n  port: eighty')).toThrow(/server\.port: expected integer/)
    expect(fails('server:\n  port: 70000')).toThrow(/server\.port/)
    expect(fails('mode: triple')).toThrow('mode must be one of single, multi')
    expect(fails('logging:\n  level: loud')).toThrow(/logging\.level must be one of/)
    expect(fails('database:\n  postgres:\n    url: mysql://x')).toThrow(/database\.postgres\.url/)
    expect(fails('database:\n  postgres:\n    pool_size: 3')).toThrow('database.postgres.url is required')
    expect(fails('database:\n  sqlite:\n    synchronous: off')).toThrow('database.sqlite.synchronous must be one of full, normal')
    expect(fails('server:\n  port: ${NOT_SET}')).toThrow('server.port: environment variable NOT_SET is not set')
    expect(fails('plugins:\n  - config: {}')).toThrow('plugins.0: give exactly one of builtin or path')
    expect(fails('database:\n  sqlite: {}\n  postgres:\n    url: postgres://a@b/c')).toThrow(
      /either database\.sqlite or database\.postgres/,
    )
  })

  it('takes tracking.cookie_domain only as a domain containing server.public_url’s host, naming the key otherwise', () => {
    const at = (domain: string, url = 'https://go.example.com') => `server:\n  public_url: ${url}\ntracking:\n  cookie_domain: ${domain}`
    expect(parseConfig(at('example.com'), {}).tracking.cookie_domain).toBe('example.com')
    expect(parseConfig(at('go.example.com'), {}).tracking.cookie_domain).toBe('go.example.com')
    expect(parseConfig('', {}).tracking.cookie_domain).toBeUndefined()
    for (const bad of ['.example.com', 'https://example.com', 'example.com:443', 'Example.com', 'com', 'example.com/x', '127.0.0.1']) {
      expect(fails(at(JSON.stringify(bad))), bad).toThrow(/^config: tracking\.cookie_domain must be a lower-case domain name/)
    }
    expect(fails(at('other.com'))).toThrow(
      "config: tracking.cookie_domain other.com does not contain server.public_url's host go.example.com: browsers would refuse the cookie",
    )
    expect(fails(at('ample.com'))).toThrow(/does not contain server\.public_url's host go\.example\.com/)
  })

  it('reports malformed YAML with its position and duplicate keys as errors', () => {
    expect(fails('server: [')).toThrow(/not valid YAML \(line 1/)
    expect(fails('mode: single\nmode: multi')).toThrow(/not valid YAML/)
  })

  it('loads a file by --config and resolves relative paths against its folder', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'p.yaml'), 'database:\n  sqlite:\n    path: ./db/x.db\n')
    const loaded = loadConfig(join(dir, 'p.yaml'), {})
    expect(loaded.baseDir).toBe(dir)
    expect(loaded.config.database.sqlite?.path).toBe('./db/x.db')
    expect(() => loadConfig(join(dir, 'missing.yaml'), {})).toThrow(/cannot read .*missing\.yaml: ENOENT/)
  })

  it('ships an example that is the built-in default and documents every key of the schema', () => {
    const example = readFileSync(new URL('../config.example.yaml', import.meta.url), 'utf8')
    expect(loadConfig(undefined, {}).source).toBe('built-in default')
    const documented = (schema: any, prefix: string[]): string[] =>
      Object.entries(schema.properties ?? {}).flatMap(([key, sub]: [string, any]) => {
        const here = [...prefix, key]
        const inner = sub.type === 'object' && sub.properties ? documented(sub, here) : []
        return [here.join('.'), ...inner]
      })
    const missing = documented(ConfigSchema, []).filter((path) => {
      const leaf = path.split('.').at(-1)!
      return !new RegExp(`^\\s*#?\\s*-?\\s*${leaf}:`, 'm').test(example)
    })
    // Plugin entry fields are documented in the plugins comment block and docs/plugins.md.
    expect(missing.filter((p) => !p.startsWith('plugins'))).toEqual([])
  })
})

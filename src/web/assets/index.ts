/**
 * The pages' assets, embedded in the binary (`with { type: 'file' }`: Bun bundles each file and
 * answers its path inside the binary, or on disk when run from source). Each is served under a
 * content-hashed name, `/assets/<name>.<hash>.<ext>`, so it can be cached for a year and a new
 * release is fetched at once; with its ETag, and gzipped for browsers that take it. Files are read,
 * hashed and compressed on first use, not at start.
 */
import { createHash } from 'node:crypto'
import picoCss from '@picocss/pico/css/pico.min.css' with { type: 'file' }
import htmxJs from 'htmx.org/dist/htmx.min.js' with { type: 'file' }
import uplotJs from 'uplot/dist/uPlot.iife.min.js' with { type: 'file' }
import uplotCss from 'uplot/dist/uPlot.min.css' with { type: 'file' }
import consoleCss from './console.css' with { type: 'file' }
import consoleJs from './console.js' with { type: 'file' }

const SOURCES = {
  'pico.css': picoCss,
  'uplot.css': uplotCss,
  'console.css': consoleCss,
  'htmx.js': htmxJs,
  'uplot.js': uplotJs,
  'console.js': consoleJs,
} as const

export type AssetName = keyof typeof SOURCES

interface Asset {
  path: string
  type: string
  etag: string
  body: Uint8Array
  gzip: Uint8Array
}

const TYPES: Record<string, string> = { css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8' }
export const ASSET_PREFIX = '/assets/'

let loaded: Map<AssetName, Asset> | undefined
let byPath: Map<string, Asset> | undefined

async function load(): Promise<Map<AssetName, Asset>> {
  if (loaded) return loaded
  const entries = await Promise.all(
    Object.entries(SOURCES).map(async ([name, file]) => {
      const body = await Bun.file(file).bytes()
      const hash = createHash('sha256').update(body).digest('hex').slice(0, 12)
      const [stem, ext] = name.split('.') as [string, string]
      const asset: Asset = {
        path: `${ASSET_PREFIX}${stem}.${hash}.${ext}`,
        type: TYPES[ext]!,
        etag: `"${hash}"`,
        body,
        gzip: Bun.gzipSync(body, { level: 9 }),
      }
      return [name as AssetName, asset] as const
    }),
  )
  loaded = new Map(entries)
  byPath = new Map(entries.map(([, asset]) => [asset.path, asset]))
  return loaded
}

/** The hashed URL path of each asset, for the pages to link. */
export async function assetPaths(): Promise<Record<AssetName, string>> {
  const assets = await load()
  return Object.fromEntries([...assets].map(([name, asset]) => [name, asset.path])) as Record<AssetName, string>
}

/** The asset at a hashed path, or a 404; a year's caching, a 304 for a known ETag, gzip when accepted. */
export async function serveAsset(request: Request): Promise<Response> {
  await load()
  const asset = byPath!.get(new URL(request.url).pathname)
  if (!asset) return new Response('not found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } })
  const headers: Record<string, string> = {
    'content-type': asset.type,
    'cache-control': 'public, max-age=31536000, immutable',
    etag: asset.etag,
    vary: 'Accept-Encoding',
    'x-content-type-options': 'nosniff',
  }
  if (request.headers.get('if-none-match') === asset.etag) return new Response(null, { status: 304, headers })
  const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '')
  if (gzip) headers['content-encoding'] = 'gzip'
  return new Response((gzip ? asset.gzip : asset.body) as Uint8Array<ArrayBuffer>, { headers })
}

/** What a browser downloads of an asset, raw and gzipped, for the bench. */
export async function assetSizes(): Promise<Record<AssetName, { raw: number; gzip: number }>> {
  const assets = await load()
  return Object.fromEntries([...assets].map(([name, a]) => [name, { raw: a.body.byteLength, gzip: a.gzip.byteLength }])) as Record<
    AssetName,
    { raw: number; gzip: number }
  >
}

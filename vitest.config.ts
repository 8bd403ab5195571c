import { defineConfig } from 'vitest/config'

export default defineConfig({
  plugins: [
    {
      // Bun embeds `import x from '…' with { type: 'file' }` in the binary and answers the file's path.
      // Vite drops import attributes on the server, so the import is marked in the source, then
      // answered with the file's path on disk.
      name: 'import-as-file',
      enforce: 'pre',
      transform(code, id) {
        if (id.includes('node_modules') || !code.includes("type: 'file'")) return null
        return { code: code.replace(/from '([^']+)' with \{ type: 'file' \}/g, "from '$1?as-file-path'"), map: null }
      },
      async resolveId(source, importer) {
        if (!source.endsWith('?as-file-path')) return null
        const resolved = await this.resolve(source.slice(0, -'?as-file-path'.length), importer, { skipSelf: true })
        // The path is encoded so that no other plugin takes the id for a stylesheet or a script.
        return resolved && `\0as-file-path:${Buffer.from(resolved.id).toString('base64url')}`
      },
      load(id) {
        if (!id.startsWith('\0as-file-path:')) return null
        return `export default ${JSON.stringify(Buffer.from(id.slice('\0as-file-path:'.length), 'base64url').toString())}`
      },
    },
    {
      // Bun imports config.example.yaml as text (`with { type: 'text' }`); vite needs telling.
      name: 'yaml-as-text',
      transform(code, id) {
        if (id.endsWith('.yaml')) return { code: `export default ${JSON.stringify(code)}`, map: null }
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 180_000,
    // CI also writes a machine-readable result, from which .ci/run prints its closing tally.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.test-data/results.json' },
  },
})

import { defineConfig } from 'vitest/config'

export default defineConfig({
  plugins: [
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

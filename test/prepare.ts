/**
 * Runs before the suite (see `bun run test`): the browser tests need Debian's Chromium. Install it when
 * missing and this machine can (root with apt-get); otherwise stop with what to install. Never skip.
 */

import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

if (!existsSync(CHROMIUM)) {
  const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')
  if (!canInstall) {
    console.error(`test: Chromium is needed at ${CHROMIUM} (Debian: apt-get install chromium), or set CHROMIUM_PATH`)
    process.exit(1)
  }
  console.log('test: installing Chromium for the browser tests (apt-get install chromium)…')
  const run = (args: string[]) =>
    spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  if (run(['update', '-qq']).status !== 0 || run(['install', '-y', '-qq', '--no-install-recommends', 'chromium']).status !== 0) {
    console.error('test: installing Chromium failed')
    process.exit(1)
  }
}

/**
 * Runs before the suite (see `bun run test`): the browser tests need Debian's Chromium, and the
 * README's walkthrough (examples/walkthrough.sh) runs with curl. Install what is missing when this
 * machine can (root with apt-get); otherwise stop with what to install. Never skip.
 */

import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const onPath = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0
/** Debian package → whether this machine has it. */
const needed: [string, boolean][] = [
  ['chromium', existsSync(CHROMIUM)],
  ['curl', onPath('curl')],
]
const missing = needed.filter(([, present]) => !present).map(([name]) => name)

if (missing.length > 0) {
  const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')
  if (!canInstall) {
    console.error(
      `test: the suite needs ${missing.join(' and ')} (Debian: apt-get install ${missing.join(' ')}); Chromium may be elsewhere with CHROMIUM_PATH`,
    )
    process.exit(1)
  }
  console.log(`test: installing ${missing.join(', ')} (apt-get install)…`)
  const run = (args: string[]) =>
    spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  if (run(['update', '-qq']).status !== 0 || run(['install', '-y', '-qq', '--no-install-recommends', ...missing]).status !== 0) {
    console.error(`test: installing ${missing.join(', ')} failed`)
    process.exit(1)
  }
}

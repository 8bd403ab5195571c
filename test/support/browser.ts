/**
 * Debian's Chromium through playwright-core, started the way this machine needs: headless, no sandbox
 * (tests run as root), and no background networking (the machine has no internet to reach).
 */
import { type Browser, chromium } from 'playwright-core'
import { CHROMIUM } from '../prepare.ts'

/** `args`: more flags, such as `--host-resolver-rules` to give loopback servers names of their own. */
export function launchChromium(args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...args,
    ],
  })
}

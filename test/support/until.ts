/**
 * Waits for `probe` to give a truthy value (what a background worker or a second instance is to
 * produce), asking every 25 ms, and fails naming `what` after `ms`: a wait bounded in time, never a sleep.
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

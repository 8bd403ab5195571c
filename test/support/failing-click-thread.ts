/**
 * The click writer's own thread (src/links/click-thread.ts), failing on cue: a batch holding a click
 * whose user agent is `crash` throws out of the thread's message handler, as a bug or a broken driver
 * would, and the thread dies of it.
 */
import '../../src/links/click-thread.ts'

declare const self: Worker
const handle = self.onmessage!
self.onmessage = (event: MessageEvent) => {
  if ('rows' in event.data && event.data.rows.includes('"crash"')) throw new Error('the click thread broke')
  return handle.call(self, event)
}

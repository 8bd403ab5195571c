/**
 * The baseline partnerd is measured against: the smallest Bun server, compiled the same way, answering
 * /ready and /health with a fixed JSON body, and /r/<key> with the click router's 302. No framework, no database, no logging: the ceiling of
 * this runtime on this machine.
 */
import { clickRedirect } from './click-redirect.ts'

const port = Number(process.argv[2] ?? process.env.PORT ?? 0)
const json = { 'content-type': 'application/json' }
const ready = JSON.stringify({ status: 'ready' })
const ok = JSON.stringify({ status: 'ok' })
let clicks = 0
const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch: (req) => {
    const path = new URL(req.url).pathname
    // The click router's ceiling: the same 302 and cookie, with no lookup and no storage.
    if (path.startsWith('/r/')) {
      return clickRedirect(`clk_${(++clicks).toString(36).padStart(26, '0')}`)
    }
    return new Response(path === '/ready' ? ready : ok, { headers: json })
  },
})
console.log(JSON.stringify({ msg: 'baseline listening', url: `http://127.0.0.1:${server.port}` }))

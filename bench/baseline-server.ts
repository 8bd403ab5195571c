/**
 * The baseline partnerd is measured against: the smallest Bun server, compiled the same way, answering
 * /ready and /health with a fixed JSON body. No framework, no database, no logging: the ceiling of
 * this runtime on this machine.
 */
const port = Number(process.env.PORT ?? 0)
const body = JSON.stringify({ status: 'ok' })
const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch: () => new Response(body, { headers: { 'content-type': 'application/json' } }),
})
console.log(JSON.stringify({ msg: 'partnerd listening', url: `http://127.0.0.1:${server.port}` }))

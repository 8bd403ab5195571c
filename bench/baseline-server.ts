/**
 * The baseline partnerd is measured against: the smallest Bun server, compiled the same way, answering
 * /ready and /health with a fixed JSON body. No framework, no database, no logging: the ceiling of
 * this runtime on this machine.
 */
const port = Number(process.argv[2] ?? process.env.PORT ?? 0)
const json = { 'content-type': 'application/json' }
const ready = JSON.stringify({ status: 'ready' })
const ok = JSON.stringify({ status: 'ok' })
const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch: (req) => new Response(new URL(req.url).pathname === '/ready' ? ready : ok, { headers: json }),
})
console.log(JSON.stringify({ msg: 'baseline listening', url: `http://127.0.0.1:${server.port}` }))

/** A real SMTP server on loopback (smtp-server) that keeps what it receives, parsed by mailparser. */
import { type ParsedMail, simpleParser } from 'mailparser'
import { SMTPServer } from 'smtp-server'

export interface Inbox {
  url: string
  messages: ParsedMail[]
  /** Resolves with the next message to `to` (waiting for it if need be). */
  next(to: string, timeoutMs?: number): Promise<ParsedMail>
  close(): Promise<void>
}

export async function startInbox(): Promise<Inbox> {
  const messages: ParsedMail[] = []
  const waiting: { to: string; resolve: (m: ParsedMail) => void }[] = []
  const taken = new Set<ParsedMail>()
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, done) {
      simpleParser(stream).then((mail) => {
        messages.push(mail)
        const to = (mail.to as { text: string } | undefined)?.text ?? ''
        const i = waiting.findIndex((w) => to.includes(w.to))
        if (i >= 0) {
          taken.add(mail)
          waiting.splice(i, 1)[0]!.resolve(mail)
        }
        done()
      }, done)
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.server.address() as { port: number }
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    next(to, timeoutMs = 5000) {
      const ready = messages.find((m) => !taken.has(m) && ((m.to as { text: string } | undefined)?.text ?? '').includes(to))
      if (ready) {
        taken.add(ready)
        return Promise.resolve(ready)
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no mail to ${to} within ${timeoutMs} ms`)), timeoutMs)
        waiting.push({
          to,
          resolve: (m) => {
            clearTimeout(timer)
            resolve(m)
          },
        })
      })
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

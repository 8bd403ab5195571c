/**
 * Outgoing mail behind one small interface. SMTP through nodemailer for real use; a file transport for
 * development that writes each message, fully formed, as an .eml file an operator can open. Tests use
 * the SMTP transport against a real SMTP server on loopback.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import type { Config } from '../config/schema.ts'

export interface MailMessage {
  to: string
  subject: string
  text: string
}

export interface Mailer {
  send(message: MailMessage): Promise<void>
}

export function createMailer(settings: Config['mail'], resolvePath: (p: string) => string): Mailer {
  if (settings.transport === 'smtp') {
    const transport = nodemailer.createTransport(settings.smtp_url!)
    return {
      async send(message) {
        await transport.sendMail({ from: settings.from, ...message })
      },
    }
  }
  const dir = resolvePath(settings.dir)
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
  return {
    async send(message) {
      const info = await transport.sendMail({ from: settings.from, ...message })
      mkdirSync(dir, { recursive: true, mode: 0o700 }) // messages hold sign-in codes: owner only
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${message.to.replace(/[^a-z0-9@.-]/gi, '_')}.eml`
      writeFileSync(join(dir, name), info.message as Buffer, { mode: 0o600 })
    },
  }
}

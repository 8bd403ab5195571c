/**
 * Outgoing mail behind one small interface. SMTP through nodemailer for real use; a file transport for
 * development that writes each message, fully formed, as an .eml file an operator can open. Tests use
 * the SMTP transport against a real SMTP server on loopback.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Transporter } from 'nodemailer'
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
  // nodemailer is imported with the first message, not at start: most starts send none.
  let transport: Promise<Transporter> | undefined
  const transporter = () => {
    transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      settings.transport === 'smtp'
        ? nodemailer.createTransport(settings.smtp_url!)
        : nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' }),
    )
    return transport
  }
  if (settings.transport === 'smtp') {
    return {
      async send(message) {
        await (await transporter()).sendMail({ from: settings.from, ...message })
      },
    }
  }
  const dir = resolvePath(settings.dir)
  return {
    async send(message) {
      const info = await (await transporter()).sendMail({ from: settings.from, ...message })
      mkdirSync(dir, { recursive: true, mode: 0o700 }) // messages hold sign-in codes: owner only
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${message.to.replace(/[^a-z0-9@.-]/gi, '_')}.eml`
      writeFileSync(join(dir, name), info.message as Buffer, { mode: 0o600 })
    },
  }
}

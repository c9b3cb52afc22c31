// A local SMTP server (smtp-server) that nodemailer talks to as to any mail relay: plain SMTP
// on 127.0.0.1 with AUTH PLAIN/LOGIN, every message parsed (mailparser) and kept. Tests make a
// recipient refused with a temporary (451) or permanent (550) reply through `failAddress`.
import { SMTPServer, type SMTPServerError } from 'smtp-server'
import { simpleParser } from 'mailparser'

export type SmtpFailure = 'temporary' | 'permanent'

export interface SmtpMail { messageId: string | null, from: string, to: string[], subject: string, text: string, html: string }

export interface FakeSmtp {
  // smtp://user:pass@127.0.0.1:port
  url: string
  received: SmtpMail[]
  connections: number
  failAddress: (to: string, failure: SmtpFailure) => void
  clearFailures: () => void
  close: () => Promise<void>
}

const USER = 'mailer'
const PASS = 'secret-password'

function smtpError (message: string, responseCode: number): SMTPServerError {
  return Object.assign(new Error(message), { responseCode })
}

export async function startFakeSmtp (): Promise<FakeSmtp> {
  const failures = new Map<string, SmtpFailure>()
  const received: SmtpMail[] = []
  let connections = 0
  const server = new SMTPServer({
    // Loopback only: no TLS to negotiate; credentials still required.
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onConnect (_session, callback) { connections++; callback() },
    onAuth (auth, _session, callback) {
      if (auth.username === USER && auth.password === PASS) callback(null, { user: USER })
      else callback(smtpError('Invalid username or password', 535))
    },
    onRcptTo (address, _session, callback) {
      const failure = failures.get(address.address)
      if (failure === 'temporary') callback(smtpError('Requested action aborted: try again later', 451))
      else if (failure === 'permanent') callback(smtpError('Mailbox unavailable', 550))
      else callback()
    },
    onData (stream, session, callback) {
      simpleParser(stream).then((mail) => {
        received.push({
          messageId: mail.messageId ?? null,
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: mail.subject ?? '',
          text: (mail.text ?? '').trim(),
          html: typeof mail.html === 'string' ? mail.html : ''
        })
        callback()
      }, (err: Error) => { callback(smtpError(err.message, 554)) })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.server.address() as { port: number }
  return {
    url: `smtp://${USER}:${PASS}@127.0.0.1:${port}`,
    received,
    get connections () { return connections },
    failAddress (to, failure) { failures.set(to, failure) },
    clearFailures () { failures.clear() },
    async close () { await new Promise<void>((resolve) => server.close(() => resolve())) }
  }
}

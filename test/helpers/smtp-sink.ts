/**
 * A real SMTP server (smtp-server) standing in for the mail server our replies go to: it accepts
 * logins for one user, keeps every message it receives (raw and parsed), and can be told to answer
 * the next messages with an SMTP error. With a certificate it takes only TLS connections.
 */
import PostalMime, { type Email } from 'postal-mime';
import { SMTPServer } from 'smtp-server';
import { freePort } from './dovecot.ts';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: Buffer;
  mail: Email;
  header(key: string): string | undefined;
}

export class SmtpSink {
  readonly received: ReceivedMail[] = [];
  /** SMTP replies for the next messages, e.g. {code: 550, message: 'no such user'}. */
  readonly failNext: { code: number; message: string }[] = [];

  private constructor(
    private readonly server: SMTPServer,
    readonly port: number,
    readonly user: string,
    readonly password: string,
  ) {}

  /** `tls`: PEM certificate and key — the server then speaks TLS from the first byte (port 465 style). */
  static async start(
    user = 'sender',
    password = 'sender-pw',
    opts: { tls?: { cert: Buffer; key: Buffer } } = {},
  ): Promise<SmtpSink> {
    const port = await freePort();
    let sink: SmtpSink | undefined;
    const server = new SMTPServer({
      ...(opts.tls ? { secure: true, cert: opts.tls.cert, key: opts.tls.key } : { secure: false }),
      disabledCommands: ['STARTTLS'],
      authOptional: false,
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === user && auth.password === password) cb(null, { user });
        else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', async () => {
          const fail = sink!.failNext.shift();
          if (fail) return cb(Object.assign(new Error(fail.message), { responseCode: fail.code }));
          const raw = Buffer.concat(chunks);
          const mail = await PostalMime.parse(raw);
          sink!.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            mail,
            header: (key) => mail.headers.find((h) => h.key === key.toLowerCase())?.value,
          });
          cb();
        });
      },
    });
    // A client that gives up mid-handshake (an untrusted certificate) is not the sink's failure.
    server.on('error', () => {});
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    sink = new SmtpSink(server, port, user, password);
    return sink;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

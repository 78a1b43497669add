/**
 * The mail source of bench:email, in its own process (mail arrives from outside, so the appending
 * does not take the measured process's CPU): logs in over IMAP with `connections` sessions and, on
 * the parent's `go`, appends `total` distinct mails to INBOX, then reports `done`.
 * Started by bench/email.ts with fork(); its settings in BENCH_APPEND (JSON).
 */
import { ImapFlow } from 'imapflow';

const { host, port, user, password, total, connections } = JSON.parse(process.env.BENCH_APPEND!) as {
  host: string;
  port: number;
  user: string;
  password: string;
  total: number;
  connections: number;
};

/** Mail `i` of the run: 50 senders, a unique Message-ID. */
function benchMail(i: number): string {
  return [
    `From: Client ${i % 50} <client${i % 50}@client.test>`,
    'To: bench@help.test',
    `Subject: bench ${i}`,
    `Message-ID: <bench-${i}@client.test>`,
    `Date: ${new Date().toUTCString()}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Message number ${i}: the printer is on fire again.`,
    '',
  ].join('\r\n');
}

const clients = await Promise.all(
  Array.from({ length: connections }, async () => {
    const c = new ImapFlow({ host, port, secure: false, auth: { user, pass: password }, logger: false });
    c.on('error', () => {});
    await c.connect();
    return c;
  }),
);
process.send!({ ready: true });
await new Promise<void>((resolve) => process.once('message', () => resolve()));
let next = 0;
await Promise.all(
  clients.map(async (c) => {
    while (next < total) await c.append('INBOX', benchMail(next++));
  }),
);
process.send!({ done: true });
await Promise.all(clients.map((c) => c.logout().catch(() => {})));
process.disconnect();

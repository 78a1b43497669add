/**
 * A real IMAP server for tests: Dovecot (Debian's dovecot-imapd) started with its own configuration,
 * passwd-file users and Maildir storage in a temp dir, listening on a free loopback port. It runs as
 * root here, so logins run as dovenull and mail as the unprivileged `dovecot` user.
 * `dovecotMissing()` says why the IMAP tests cannot run (they skip, printing it), or null.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';

const DOVECOT = '/usr/sbin/dovecot';
const DOVEADM = '/usr/bin/doveadm';
const MAIL_USER = 'dovecot';

export function dovecotMissing(): string | null {
  if (!existsSync(DOVECOT) || !existsSync(DOVEADM)) {
    return `dovecot is not installed (${DOVECOT}); install dovecot-imapd to run the IMAP tests`;
  }
  return null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function idsOf(user: string): Promise<{ uid: number; gid: number }> {
  const run = promisify(execFile);
  const uid = Number((await run('id', ['-u', user])).stdout.trim());
  const gid = Number((await run('id', ['-g', user])).stdout.trim());
  return { uid, gid };
}

export interface Dovecot {
  host: string;
  port: number;
  /** The implicit-TLS (imaps) port when started with `tls`; 0 otherwise. */
  tlsPort: number;
  /** Adds a mailbox user (login = address). */
  addUser(user: string, password: string): Promise<void>;
  /** An IMAP client logged in as a user (the test's own view of the mailbox). */
  client(user: string, password: string): Promise<ImapFlow>;
  /**
   * Appends raw messages to a user's folder, in order over one connection — or over `connections`
   * at once (each taking the next message when its last APPEND is done; UIDs then interleave).
   */
  append(
    user: string,
    password: string,
    raws: (string | Buffer)[],
    folder?: string,
    opts?: { connections?: number },
  ): Promise<void>;
  /** Disconnects every session of a user (as a server restart would). */
  kick(user: string): Promise<void>;
  /** Gives a folder a new UIDVALIDITY (as a rebuilt mailbox would). */
  resetUidValidity(user: string, folder: string, value: number): Promise<void>;
  stop(): Promise<void>;
}

export interface DovecotOptions {
  /** false: the server does not offer IDLE (clients must poll). */
  idle?: boolean;
  /** PEM files: an implicit-TLS (imaps) listener too, on `tlsPort`. */
  tls?: { cert: string; key: string };
}

export async function startDovecot(opts: DovecotOptions = {}): Promise<Dovecot> {
  const dir = await mkdtemp(path.join(tmpdir(), 'omniline-dovecot-'));
  const port = await freePort();
  const tlsPort = opts.tls ? await freePort() : 0;
  const mail = await idsOf(MAIL_USER);
  const root = userInfo().uid === 0;
  await mkdir(path.join(dir, 'mail'));
  await mkdir(path.join(dir, 'run'));
  // The auth and mail processes run as `dovecot`: they must reach the dir, read passwd, own mail.
  await chmod(dir, 0o755);
  if (root) await chown(path.join(dir, 'mail'), mail.uid, mail.gid);
  const passwd = path.join(dir, 'passwd');
  await writeFile(passwd, '');
  const conf = path.join(dir, 'dovecot.conf');
  await writeFile(
    conf,
    `base_dir = ${dir}/run
state_dir = ${dir}/run
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
${opts.tls ? `ssl = yes\nssl_cert = <${opts.tls.cert}\nssl_key = <${opts.tls.key}` : 'ssl = no'}
disable_plaintext_auth = no
auth_mechanisms = plain login
${root ? 'default_login_user = dovenull\ndefault_internal_user = dovecot\n' : ''}first_valid_uid = ${Math.min(mail.uid, 100)}
mail_location = maildir:${dir}/mail/%u
mail_uid = ${mail.uid}
mail_gid = ${mail.gid}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${passwd}
}
userdb {
  driver = passwd-file
  args = username_format=%u ${passwd}
  default_fields = uid=${mail.uid} gid=${mail.gid} home=${dir}/mail/%u
}
protocol imap {
  # The feeders of tests and benchmarks, and the channel's fetcher, log in from one address at once.
  mail_max_userip_connections = 64
${opts.idle === false ? '  imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS MOVE NAMESPACE' : ''}
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${tlsPort}
  }
  chroot =
}
service pop3-login {
  chroot =
}
service anvil {
  chroot =
}
`,
  );
  const proc: ChildProcess = spawn(DOVECOT, ['-F', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const users = new Map<string, string>();
  // Dovecot reloads the file when its mtime changes, at one-second resolution: each write moves it on.
  let version = Math.floor(Date.now() / 1000);
  const writeUsers = async () => {
    await writeFile(passwd, [...users].map(([u, p]) => `${u}:{PLAIN}${p}::::::\n`).join(''));
    version += 2;
    await utimes(passwd, version, version);
  };

  const connect = async (user: string, password: string) => {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port,
      secure: false,
      // The test's own view stays on the plain port, also when the server offers STARTTLS (tls).
      doSTARTTLS: false,
      auth: { user, pass: password },
      logger: false,
    });
    c.on('error', () => {});
    await c.connect();
    return c;
  };
  // Ready when it answers a login.
  const until = Date.now() + 15_000;
  users.set('probe@test.local', 'probe');
  await writeUsers();
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`dovecot exited: ${stderr}`);
    try {
      const c = await connect('probe@test.local', 'probe');
      await c.logout();
      break;
    } catch (err) {
      if (Date.now() > until) {
        const log = await readFile(path.join(dir, 'dovecot.log'), 'utf8').catch(() => '');
        throw new Error(`dovecot did not start: ${(err as Error).message} ${stderr} ${log.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  return {
    host: '127.0.0.1',
    port,
    tlsPort,
    async addUser(user, password) {
      users.set(user, password);
      await writeUsers();
      // The auth process re-reads the file when restarted.
      await promisify(execFile)(DOVEADM, ['-c', conf, 'reload']);
      await new Promise((r) => setTimeout(r, 300));
    },
    client: connect,
    async append(user, password, raws, folder = 'INBOX', opts = {}) {
      let next = 0;
      const feed = async () => {
        const c = await connect(user, password);
        try {
          while (next < raws.length) await c.append(folder, raws[next++]!);
        } finally {
          await c.logout();
        }
      };
      const n = Math.max(1, Math.min(opts.connections ?? 1, raws.length));
      await Promise.all(Array.from({ length: n }, feed));
    },
    async kick(user) {
      await promisify(execFile)(DOVEADM, ['-c', conf, 'kick', user]).catch(() => {});
    },
    async resetUidValidity(user, folder, value) {
      await promisify(execFile)(DOVEADM, [
        '-c',
        conf,
        'mailbox',
        'update',
        '-u',
        user,
        '--uid-validity',
        String(value),
        folder,
      ]);
    },
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

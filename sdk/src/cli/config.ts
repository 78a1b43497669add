/**
 * Where the CLI connects: OMNILINE_URL / OMNILINE_TOKEN, else what `omniline login` stored in the
 * user's config dir (`$XDG_CONFIG_HOME/omniline/credentials.json`, or `~/.config/…`; on Windows
 * `%APPDATA%\omniline\…`), a file only its owner may read (mode 0600).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

export interface Credentials {
  url: string;
  token: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CONFIG_HOME) return path.join(env.XDG_CONFIG_HOME, 'omniline');
  if (process.platform === 'win32' && env.APPDATA) return path.join(env.APPDATA, 'omniline');
  return path.join(homedir(), '.config', 'omniline');
}

export const credentialsFile = (env: NodeJS.ProcessEnv = process.env) =>
  path.join(configDir(env), 'credentials.json');

export async function saveCredentials(
  creds: Credentials,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const file = credentialsFile(env);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600); // writeFile keeps the mode of a file that existed
  return file;
}

export async function loadCredentials(env: NodeJS.ProcessEnv = process.env): Promise<Partial<Credentials>> {
  const stored = await readFile(credentialsFile(env), 'utf8')
    .then((text) => JSON.parse(text) as Partial<Credentials>)
    .catch(() => ({}) as Partial<Credentials>);
  return { url: env.OMNILINE_URL || stored.url, token: env.OMNILINE_TOKEN || stored.token };
}

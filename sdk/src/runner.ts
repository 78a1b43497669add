/**
 * The script runner: a TypeScript or JavaScript file run with `System`, `Context` and the enums in
 * scope, so a snippet of the lines API document runs as written (top-level `await` included).
 */
import { copyFile, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { LineChannelState, LineChannelType, LineSessionPriority, LineSessionState } from './enums.ts';
import type { ContextData, ScriptContext } from './globals.ts';
import type { ItemRef } from './items.ts';
import type { LinesCollections, System } from './system.ts';

/** `--context` ref types and the collection each reads from. */
const REF_TYPES: Record<string, keyof LinesCollections> = {
  line: 'lines',
  channel: 'channels',
  client: 'clients',
  contact: 'contacts',
  session: 'sessions',
  message: 'messages',
  user: 'users',
  group: 'groups',
  bot: 'bots',
};

/** Turns `key=value` pairs into Context.data: `type:<id>` becomes a ref, anything else stays a string. */
export function parseContext(
  system: System,
  pairs: readonly string[],
): Record<string, string | ItemRef<unknown>> {
  const data: Record<string, string | ItemRef<unknown>> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new TypeError(`--context ${pair}: expected key=value`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const m = /^([a-z]+):(.+)$/.exec(value);
    const collection = m && Object.hasOwn(REF_TYPES, m[1]!) ? REF_TYPES[m[1]!]! : undefined;
    data[key] = collection ? system.lines[collection].ref(m![2]!) : value;
  }
  return data;
}

/** Context.data that names the missing option instead of handing the script an undefined. */
function contextOf(data: Record<string, string | ItemRef<unknown>>): ScriptContext {
  const strict = new Proxy(data, {
    get(target, key) {
      if (typeof key !== 'string' || Object.hasOwn(target, key)) return Reflect.get(target, key);
      if (key === 'then' || key === 'toJSON') return undefined;
      throw new TypeError(`Context.data.${key} is not set: pass --context ${key}=<value>`);
    },
  });
  return { data: strict as unknown as ContextData };
}

/** True when Node loads this file as an ES module (so top-level await works as written). */
async function loadsAsModule(file: string): Promise<boolean> {
  if (/\.m[jt]s$/.test(file)) return true;
  if (/\.c[jt]s$/.test(file)) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pkg = await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => null);
    if (pkg !== null) return (JSON.parse(pkg) as { type?: string }).type === 'module';
    if (path.dirname(dir) === dir) return false;
  }
}

export interface RunOptions {
  system: System;
  /** `key=value` pairs, as `--context` gives them. */
  context?: readonly string[];
}

const GLOBALS = [
  'System',
  'Context',
  'LineChannelState',
  'LineChannelType',
  'LineSessionState',
  'LineSessionPriority',
];

/** Runs the script to its end; its error (an OmnilineError for a refused call) rejects. */
export async function runScript(file: string, opts: RunOptions): Promise<void> {
  const absolute = path.resolve(file);
  await readFile(absolute).catch(() => {
    throw new TypeError(`no such script: ${file}`);
  });
  const g = globalThis as Record<string, unknown>;
  const saved = GLOBALS.map((name) => [name, g[name]] as const);
  Object.assign(g, {
    System: opts.system,
    Context: contextOf(parseContext(opts.system, opts.context ?? [])),
    LineChannelState,
    LineChannelType,
    LineSessionState,
    LineSessionPriority,
  });
  // A .ts/.js file outside an ES-module package would load as CommonJS, where top-level await is an
  // error: such a script runs from a `.mts` copy beside it (same directory, so its imports resolve).
  let target = absolute;
  if (!(await loadsAsModule(absolute))) {
    target = path.join(path.dirname(absolute), `.${path.basename(absolute)}.${process.pid}.omniline.mts`);
    await copyFile(absolute, target);
  }
  try {
    await tsImport(pathToFileURL(target).href, import.meta.url);
  } finally {
    if (target !== absolute) await rm(target, { force: true });
    for (const [name, value] of saved) g[name] = value;
  }
}

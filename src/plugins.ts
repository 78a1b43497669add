/**
 * OMNILINE_PLUGINS=./a.js,./b.ts loads modules that extend Omniline without touching its code.
 * A plugin module exports `providers` (ChannelProvider[]) and/or `routingRules`, by name or on its
 * default export.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChannelProvider } from './providers/provider.ts';
import type { RoutingRule } from './routing/rule.ts';

export interface OmnilinePlugin {
  providers?: ChannelProvider[];
  routingRules?: RoutingRule[];
}

/**
 * Whether this module was loaded through a TypeScript loader (tsx: `npm run dev`, the tests); the
 * compiled server (dist/, `npm start`) was not, and registers tsx for the first `.ts` plugin.
 */
let typescriptLoader = import.meta.url.endsWith('.ts');

async function ensureTypeScriptLoader(): Promise<void> {
  if (typescriptLoader) return;
  const { register } = await import('tsx/esm/api');
  register();
  typescriptLoader = true;
}

export async function loadPlugins(specs: string[], cwd = process.cwd()): Promise<OmnilinePlugin[]> {
  const plugins: OmnilinePlugin[] = [];
  for (const spec of specs) {
    if (/\.[cm]?ts$/.test(spec)) await ensureTypeScriptLoader();
    const target =
      spec.startsWith('.') || path.isAbsolute(spec) ? pathToFileURL(path.resolve(cwd, spec)).href : spec;
    let mod: OmnilinePlugin & { default?: OmnilinePlugin };
    try {
      mod = (await import(target)) as OmnilinePlugin & { default?: OmnilinePlugin };
    } catch (err) {
      throw new Error(`OMNILINE_PLUGINS: cannot load "${spec}": ${(err as Error).message}`);
    }
    const plugin = mod.providers || mod.routingRules ? mod : (mod.default ?? {});
    if (!plugin.providers && !plugin.routingRules) {
      throw new Error(`OMNILINE_PLUGINS: "${spec}" exports neither providers nor routingRules`);
    }
    plugins.push(plugin);
  }
  return plugins;
}

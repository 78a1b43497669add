/**
 * The web apps the server serves itself — no separate server, no CDN: every `web/<name>/` built by
 * Vite into `dist/web/<name>/` (scripts/build.mjs, run by `npm install` and `npm start`).
 *
 * An app is mounted at `/<name>/`; a path under it without a file extension is a client-side route
 * and gets the app's `index.html`. An app that was not built answers 503 WEB_APP_NOT_BUILT saying how
 * to build it, never a bare 404.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../errors.ts';

/** Where the built apps are: beside the bundle (dist/main.js) or, run from source, in dist/. */
export function webAppsDir(): string | undefined {
  for (const candidate of ['./web/', '../../../dist/web/']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  return undefined;
}

export interface WebApp {
  /** The folder under web/ and the URL prefix. */
  name: string;
  /** Files served at the site root from the app's build, e.g. the widget's `widget.js`. */
  rootFiles?: string[];
}

/** Mounts `apps` from `dir` (the built apps' folder, ending in `/`; found by webAppsDir by default). */
export async function registerWebApps(
  app: FastifyInstance,
  apps: WebApp[],
  dir: string | undefined = webAppsDir(),
): Promise<void> {
  let decorated = false;
  // Hashed asset names change with every build; index.html must always be re-read, and a root file
  // (its name never changes: it is in the embedding sites' pages) is re-checked soon. One function
  // for every app: `reply.sendFile` uses the options of the registration that decorated the reply.
  const rootPaths = new Set(apps.flatMap((a) => (a.rootFiles ?? []).map((f) => `${dir}${a.name}/${f}`)));
  const setHeaders = (reply: FastifyReply, file: string) => {
    reply.header(
      'cache-control',
      file.endsWith('.html')
        ? 'no-cache'
        : rootPaths.has(file)
          ? 'public, max-age=300'
          : 'public, max-age=3600',
    );
  };
  for (const { name, rootFiles = [] } of apps) {
    const appDir = dir && `${dir}${name}/`;
    if (!appDir || (!existsSync(`${appDir}index.html`) && rootFiles.every((f) => !existsSync(appDir + f)))) {
      const notBuilt = async () => {
        throw new AppError('WEB_APP_NOT_BUILT', `the ${name} app is not built: run npm run build`);
      };
      app.get(`/${name}`, { schema: { hide: true } }, notBuilt);
      app.get(`/${name}/*`, { schema: { hide: true } }, notBuilt);
      for (const file of rootFiles) app.get(`/${file}`, { schema: { hide: true } }, notBuilt);
      continue;
    }
    await app.register(fastifyStatic, {
      root: appDir,
      prefix: `/${name}/`,
      decorateReply: !decorated,
      index: ['index.html'],
      wildcard: false,
      setHeaders,
    });
    decorated = true;
    // Client-side routes of a single-page app: anything under the prefix without an extension.
    app.get(`/${name}/*`, { schema: { hide: true } }, (request, reply) => {
      const path = (request.params as { '*': string })['*'];
      if (/\.[a-z0-9]+$/i.test(path)) return reply.callNotFound();
      return reply.type('text/html').sendFile('index.html', appDir);
    });
    // @fastify/static (wildcard: false) already answers `/<name>` with the index when it has one.
    if (!app.hasRoute({ method: 'GET', url: `/${name}` })) {
      app.get(`/${name}`, { schema: { hide: true } }, (_request, reply) => reply.redirect(`/${name}/`));
    }
    for (const file of rootFiles) {
      app.get(`/${file}`, { schema: { hide: true } }, (_request, reply) => reply.sendFile(file, appDir));
    }
  }
}

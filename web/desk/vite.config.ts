/**
 * The operator desk: built into dist/web/desk/ by scripts/build.mjs and served at /desk/ by the
 * server itself. `npm run dev:desk` serves it with hot reload, proxying the API and the realtime
 * gateway to a running server (OMNILINE_URL, default http://127.0.0.1:3000).
 */
import { defineConfig } from 'vite';

const target = process.env.OMNILINE_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  base: '/desk/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { target: 'es2020', sourcemap: false, chunkSizeWarningLimit: 300 },
  server: {
    port: 5173,
    proxy: {
      '/api': { target, changeOrigin: true },
      '/centrifugo': { target, ws: true, changeOrigin: true },
    },
  },
});

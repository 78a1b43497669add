/**
 * The website live-chat widget: one classic script, `widget.js` (an IIFE, styles inlined — they go
 * into the widget's shadow root, never the host page), built into dist/web/widget/ by
 * scripts/build.mjs and served at `/widget.js` by the server itself. No chunks, no fonts, no
 * third-party requests: everything the widget needs is in the file or on its own server.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  define: { 'process.env.NODE_ENV': '"production"' },
  build: {
    target: 'es2020',
    sourcemap: false,
    cssCodeSplit: false,
    lib: {
      entry: 'src/main.tsx',
      name: 'OmnilineWidget',
      formats: ['iife'],
      fileName: () => 'widget.js',
    },
    rollupOptions: { output: { inlineDynamicImports: true } },
  },
});

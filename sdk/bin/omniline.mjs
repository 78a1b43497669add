#!/usr/bin/env node
// The `omniline` command: loads the TypeScript CLI through tsx (a dependency of the package).
import { tsImport } from 'tsx/esm/api';

const { run } = await tsImport('../src/cli/main.ts', import.meta.url);
await run(process.argv.slice(2));

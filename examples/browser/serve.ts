/**
 * Serve the browser example: esbuild bundles main.ts (with ropelab, imported from source) into main.js in memory and
 * serves it with index.html on 127.0.0.1; Ctrl-C stops it. Outside this repository, `npm install ropelab esbuild`,
 * import from 'ropelab' in main.ts, and run the same lines (or `npx esbuild main.ts --bundle --format=esm
 * --outfile=main.js` and any static file server).
 *
 *   node scripts/run.mjs examples/browser/serve.ts [--port 8000]
 */
import * as esbuild from 'esbuild';

const at = process.argv.indexOf('--port');
const port = at < 0 ? 8000 : Number(process.argv[at + 1]); // 0: any free port

const context = await esbuild.context({
  entryPoints: ['examples/browser/main.ts'],
  outdir: 'examples/browser', // main.ts → /main.js
  bundle: true,
  format: 'esm', // main.ts awaits at top level
  platform: 'browser',
  target: 'es2022',
  write: false, // serve mode answers from memory; nothing is written next to main.ts
  logLevel: 'warning',
});
const server = await context.serve({ servedir: 'examples/browser', host: '127.0.0.1', port });
console.log(`ropelab browser example: http://127.0.0.1:${server.port}/  (Ctrl-C stops it)`);

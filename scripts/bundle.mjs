// `npm run build`, after `tsc --noEmit` (the type check): bundles the CLI into dist/ with esbuild.
//
// Why a bundle: Node 20 loads ~100 small ES modules (ours, yargs's, zod's) one file at a time, and
// compiles each; one bundle per entry, split into chunks (esbuild --splitting), starts in about two
// thirds of the time (issue 24: the CLI's start-up against `node -e 0`). Each command's handler loads
// its code with import() when it runs, and each such import is a chunk of its own, so `--version`
// loads yargs and our command definitions only, and `analyze` what analyze runs.
//
// Layout (the paths the code computes at run time depend on it):
//   dist/cli/main.js             the `ipitrace` bin
//   dist/ingest/parse-worker.js  worker thread entries, found from the package root
//   dist/batch/worker.js         (store/paths.ts; ingest/read-file.ts, batch/pool.ts)
//   dist/bench/*.js              `npm run bench` and its child processes
//   dist/chunks/*.js             code shared by entries, and the code of each import()
//   dist/yargs-locales/*.json    yargs's messages in other languages (LANG), as yargs ships them
// schema/*.sql and queries/*.sql are read from the package root, not from dist/.
// better-sqlite3 (a native addon) and @duckdb/node-api (tests only) stay in node_modules.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);

/**
 * string-width (yargs's and cliui's, three copies) builds Intl.Segmenter and Unicode property
 * regular expressions (\p{RGI_Emoji}) when its module is evaluated: 15-20 ms of every start-up,
 * though only `--help` and usage errors measure text. Each import of it gets a stand-in that loads
 * the real module (the same copy the import would have found) on its first call: esbuild wraps a
 * require()d ES module in a function run on first use.
 */
const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.pluginData === 'real') return undefined;
      const real = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'real' });
      if (real.errors.length) return { errors: real.errors };
      return { path: real.path, namespace: 'lazy-string-width' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-string-width' }, (args) => ({
      resolveDir: dirname(args.path),
      contents: `let width;
export default function stringWidth(text, options) {
  width ??= require(${JSON.stringify(args.path)}).default;
  return width(text, options);
}`,
    }));
  },
};

/**
 * yargs finds its locales (y18n) beside its own file in node_modules; in the bundle, they are
 * dist/yargs-locales/, one folder above any entry or chunk.
 */
const yargsLocales = {
  name: 'yargs-locales',
  setup(b) {
    b.onLoad({ filter: /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const from = "directory: resolve(__dirname, '../../../locales')";
      if (!text.includes(from)) throw new Error(`${args.path}: no "${from}" (another yargs?): see scripts/bundle.mjs`);
      return { contents: text.replace(from, "directory: fileURLToPath(new URL('../yargs-locales', import.meta.url))"), loader: 'js' };
    });
  },
};

rmSync(dist, { recursive: true, force: true });
let build;
try {
  ({ build } = await import('esbuild'));
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  // A node_modules from before esbuild was a devDependency: the modules as tsc compiles them, which
  // work the same, only start slower.
  console.warn('scripts/bundle.mjs: esbuild is not installed (npm ci installs it); dist/ is compiled by tsc instead, unbundled: a slower start-up');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root], { stdio: 'inherit' });
  chmodSync(join(dist, 'cli', 'main.js'), 0o755);
  process.exit(0);
}
await build({
  absWorkingDir: root,
  entryPoints: ['cli/main.ts', 'ingest/parse-worker.ts', 'batch/worker.ts', 'bench/run.ts', 'bench/baseline.ts', 'bench/rss-hook.ts'],
  outdir: 'dist',
  outbase: '.',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', '@duckdb/node-api'],
  // CommonJS dependencies (split2, yargs's helpers) require() Node's modules: give the ES module
  // output a require.
  banner: { js: "import { createRequire as __ipitraceRequire } from 'node:module'; const require = __ipitraceRequire(import.meta.url);" },
  // --debug turns source maps on (cli/main.ts): stack traces then name our .ts files and lines.
  sourcemap: 'linked',
  sourcesContent: false,
  plugins: [lazyStringWidth, yargsLocales],
  logLevel: 'warning',
});
cpSync(join(dirname(require.resolve('yargs/package.json')), 'locales'), join(dist, 'yargs-locales'), { recursive: true });
chmodSync(join(dist, 'cli', 'main.js'), 0o755);

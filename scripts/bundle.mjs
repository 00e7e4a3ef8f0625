// `npm run build`, after `tsc --noEmit` (the type check): bundles the CLI into dist/ with esbuild.
//
// Why: Node 20 loads ~100 small ES modules (ours, yargs's, zod's) one file at a time, resolving,
// reading, compiling and linking each. One CommonJS bundle per entry starts sooner still: no ES
// module loader at all (7-10 ms of its own on the 2-core machine), one file read and compiled per
// bundle (issue 24: the CLI's start-up against `node -e 0`). The bin holds yargs and the commands'
// options (cli/commands.ts); each command's handler is a bundle of its own (dist/cli/X.js, from
// cli/X.ts), required when the command runs: `--version` loads one file, `analyze` two.
// esbuild turns the handlers' import() into require() (supported: dynamic-import false); the code
// imported with import() inside a handler's bundle is in that bundle, evaluated on first use.
//
// Layout (the paths the code computes at run time depend on it):
//   dist/package.json            {"type": "commonjs"}: the .js files below are CommonJS
//   dist/cli/main.js             the `ipitrace` bin
//   dist/cli/<command>.js        each command's handler and everything it runs
//   dist/ingest/parse-worker.js  worker thread entries, found from the package root
//   dist/batch/worker.js         (store/paths.ts; ingest/read-file.ts, batch/pool.ts)
//   dist/bench/*.js              `npm run bench` and its child processes
//   dist/yargs-locales/*.json    yargs's messages in other languages (LANG), as yargs ships them
// schema/*.sql and queries/*.sql are read from the package root, not from dist/.
// better-sqlite3 (a native addon) and @duckdb/node-api (tests only) stay in node_modules.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
 * yargs's Node shim imports node:assert (2 ms to load: its error classes, colours, call tracker) for
 * two checks that fail only on a bug of yargs: the module is loaded when one of them runs.
 */
const lazyAssert = {
  name: 'lazy-assert',
  setup(b) {
    b.onResolve({ filter: /^assert$/ }, (args) => (/[\\/]yargs[\\/]/.test(args.importer) ? { path: 'assert', namespace: 'lazy-assert' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy-assert' }, () => ({
      contents: `export function notStrictEqual(...args) { return require('node:assert').notStrictEqual(...args); }
export function strictEqual(...args) { return require('node:assert').strictEqual(...args); }`,
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

/** The handlers' modules, imported by cli/commands.ts: bundles of their own, not part of the bin's. */
const COMMANDS = ['analyze', 'batch', 'detect', 'export', 'ingest', 'query', 'record', 'schema', 'timeline'];
const handlersApart = {
  name: 'handlers-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/[a-z]+\.js$/ }, (args) => {
      if (args.kind !== 'dynamic-import' || !/[\\/]cli[\\/]commands\.ts$/.test(args.importer)) return undefined;
      if (!COMMANDS.includes(args.path.slice(2, -3))) throw new Error(`cli/commands.ts imports ${args.path}: add it to COMMANDS in scripts/bundle.mjs`);
      return { path: args.path, external: true };
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
  entryPoints: ['cli/main.ts', ...COMMANDS.map((c) => `cli/${c}.ts`), 'ingest/parse-worker.ts', 'batch/worker.ts', 'bench/run.ts', 'bench/baseline.ts', 'bench/rss-hook.ts'],
  outdir: 'dist',
  outbase: '.',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  supported: { 'dynamic-import': false },
  external: ['better-sqlite3', '@duckdb/node-api'],
  // import.meta.url (store/paths.ts, bench/run.ts, yargs) is the bundle's own file.
  define: { 'import.meta.url': '__ipitraceFileUrl' },
  banner: { js: "const __ipitraceFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  // --debug turns source maps on (cli/main.ts): stack traces then name our .ts files and lines.
  sourcemap: 'linked',
  sourcesContent: false,
  plugins: [handlersApart, lazyStringWidth, lazyAssert, yargsLocales],
  logLevel: 'warning',
});
writeFileSync(join(dist, 'package.json'), '{ "type": "commonjs" }\n');
cpSync(join(dirname(require.resolve('yargs/package.json')), 'locales'), join(dist, 'yargs-locales'), { recursive: true });
chmodSync(join(dist, 'cli', 'main.js'), 0o755);

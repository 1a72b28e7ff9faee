#!/usr/bin/env node
/**
 * The package graph is a strict stack: each package may import only the
 * packages above it in LAYERS, services may import any package, and nothing
 * imports a service. Also checks that every @xenfleet import is declared in
 * the importing package's package.json (dependencies for src/, dependencies
 * or devDependencies for tests), and that no package reaches into another's
 * files (`@xenfleet/x/src/...`, `../../other/...`).
 *
 * `--fix` rewrites the @xenfleet entries of each package.json to what its
 * imports need. Exit 1 and one line per problem otherwise.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Top to bottom: a package depends only on packages listed before it. */
export const LAYERS = [
  "core",
  "format",
  "store",
  "native",
  "image",
  "hypervisor",
  "jobs",
  "transfer",
  "migration",
  "fleet",
  "dashboard",
  "cli",
];

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const fix = process.argv.includes("--fix");
const problems = [];

function tsFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name === "dist" || name === "build") return [];
    if (statSync(path).isDirectory()) return tsFiles(path);
    return /\.(ts|tsx|mts|js|mjs)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

function importsOf(file) {
  const text = readFileSync(file, "utf8");
  const found = [];
  const pattern =
    /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|import\s*["']([^"']+)["']/g;
  for (const m of text.matchAll(pattern)) found.push(m[1] ?? m[2] ?? m[3]);
  return found;
}

const workspaces = [
  ...readdirSync(join(root, "packages")).map((n) => ({ kind: "package", name: n, dir: join(root, "packages", n) })),
  ...readdirSync(join(root, "services")).map((n) => ({ kind: "service", name: n, dir: join(root, "services", n) })),
].filter((w) => existsSync(join(w.dir, "package.json")));

for (const w of workspaces) {
  if (w.kind === "package" && !LAYERS.includes(w.name))
    problems.push(`packages/${w.name}: not in the layer list of scripts/check-layers.mjs`);
}

const packageNames = new Map(
  workspaces.map((w) => [JSON.parse(readFileSync(join(w.dir, "package.json"), "utf8")).name, w]),
);

for (const w of workspaces) {
  const pkgPath = join(w.dir, "package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8"));
  const level = LAYERS.indexOf(w.name);
  const needed = { src: new Set(), test: new Set() };
  const sources = ["src", "lib", "bin"].flatMap((d) => tsFiles(join(w.dir, d)));
  const tests = tsFiles(join(w.dir, "test"));
  for (const [part, files] of [
    ["src", sources],
    ["test", tests],
  ]) {
    for (const file of files) {
      const where = relative(root, file);
      for (const spec of importsOf(file)) {
        if (spec.startsWith(".")) {
          const target = resolve(dirname(file), spec);
          if (!target.startsWith(w.dir + sep)) problems.push(`${where}: imports ${spec}, outside its package`);
          continue;
        }
        const m = /^(@xenfleet\/[a-z0-9-]+)(\/.*)?$/.exec(spec);
        if (!m) continue;
        const [, name, sub] = m;
        if (name === pkg.name) continue;
        const other = packageNames.get(name);
        if (other === undefined) {
          problems.push(`${where}: imports ${name}, which is no workspace package`);
          continue;
        }
        if (sub !== undefined && /^\/(src|lib|dist)\//.test(sub)) problems.push(`${where}: deep import ${spec}`);
        if (other.kind === "service") problems.push(`${where}: imports the service ${name}`);
        else if (w.kind === "package" && LAYERS.indexOf(other.name) >= level) {
          problems.push(`${where}: ${pkg.name} may not import ${name} (it sits at or below it in the stack)`);
        }
        needed[part].add(name);
      }
    }
  }
  const deps = pkg.dependencies ?? {};
  const dev = pkg.devDependencies ?? {};
  const peer = pkg.peerDependencies ?? {};
  if (fix) {
    const strip = (o) => Object.fromEntries(Object.entries(o).filter(([k]) => !k.startsWith("@xenfleet/")));
    const add = (names) => Object.fromEntries([...names].sort().map((n) => [n, "*"]));
    pkg.dependencies = { ...add(needed.src), ...strip(deps) };
    const devOnly = [...needed.test].filter((n) => !needed.src.has(n));
    const devRest = strip(dev);
    pkg.devDependencies = { ...add(devOnly), ...devRest };
    if (Object.keys(pkg.devDependencies).length === 0) delete pkg.devDependencies;
    writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
    continue;
  }
  for (const n of needed.src)
    if (!(n in deps) && !(n in peer)) problems.push(`${relative(root, pkgPath)}: imports ${n} without declaring it`);
  for (const n of needed.test)
    if (!(n in deps) && !(n in dev))
      problems.push(`${relative(root, pkgPath)}: its tests import ${n} without declaring it`);
  for (const n of Object.keys(deps)) {
    if (n.startsWith("@xenfleet/") && !needed.src.has(n))
      problems.push(`${relative(root, pkgPath)}: declares ${n} but does not import it`);
  }
}

for (const p of problems) console.error(`layers: ${p}`);
if (problems.length > 0) process.exit(1);
if (!fix) console.log(`layers: ${workspaces.length} workspaces, dependencies point one way`);

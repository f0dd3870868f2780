#!/usr/bin/env node
// Checks the web UI's npm dependencies (web/package-lock.json) with what is available offline.
// Run by scripts/check-deps; exits 1 on a finding without a written exception here.
//
// Done:
//   1. licences: every package's SPDX `license` (as recorded in the lockfile) against LICENSES below;
//      a package with none, or outside the list, needs an entry in LICENSE_EXCEPTIONS (name@version).
//   2. provenance: every package in the lockfile comes from the npm registry (no git, tarball-URL,
//      file: or link entries; a `resolved` URL, where present, is under npm's configured registry, which
//      must be https; npm omits `resolved` for registry packages with this machine's npmrc) and has a sha512
//      `integrity` hash, which `npm ci` verifies on download; package.json asks only for registry
//      versions; no package runs an install script (`hasInstallScript`) unless INSTALL_SCRIPTS allows it;
//      no bundled dependencies (those are not hashed one by one).
//   3. known vulnerabilities: only if the registry answers `npm audit` (its bulk advisory endpoint).
//      The registry proxy these machines reach answers it with 405 and serves no other advisory data
//      (packuments come without `deprecated` marks or signatures), and no package on the reachable
//      registries ships an npm advisory database, so today this part says NOT CHECKED and does not fail.
//      If the endpoint ever answers, an advisory fails the check unless AUDIT_IGNORE lists it.
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// The web directory (an argument, for testing the check itself) and the registry npm is configured with.
const WEB = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "web");
const npmRegistry = spawnSync("npm", ["config", "get", "registry"], { cwd: WEB, encoding: "utf8", timeout: 30_000 });
const REGISTRY = (npmRegistry.stdout ?? "").trim().replace(/\/?$/, "/");
if (npmRegistry.status !== 0 || !/^https:\/\//.test(REGISTRY)) {
  console.log(`error: 'npm config get registry' gave '${REGISTRY}' (exit ${npmRegistry.status}); need an https registry`);
  process.exit(1);
}

// SPDX identifiers accepted anywhere in the tree: the ones it really uses (an unused entry is reported),
// all permissive except MPL-2.0, a file-level copyleft met by using the package's files unmodified
// (lightningcss and its platform binaries, vite's CSS tool: dev-only, not in the built UI).
const LICENSES = new Set(["MIT", "Apache-2.0", "ISC", "BSD-3-Clause", "0BSD", "BlueOak-1.0.0", "MPL-2.0"]);
const seenLicenses = new Set();

// name@version -> why it is accepted. Keyed by version so an upgrade is looked at again.
const LICENSE_EXCEPTIONS = {
  "combine-errors@3.0.3":
    "no `license` field in its package.json (so none in the lockfile) and no LICENSE file; its Readme.md " +
    "ends with '## License  MIT'. Pulled in by tus-js-client.",
};

// name@version -> why it may run an install script. None today.
const INSTALL_SCRIPTS = {};

// npm audit advisory ids (GHSA-…) or URLs -> why they do not apply. None today.
const AUDIT_IGNORE = {};

const lock = JSON.parse(readFileSync(join(WEB, "package-lock.json"), "utf8"));
const manifest = JSON.parse(readFileSync(join(WEB, "package.json"), "utf8"));
const errors = [];
const warnings = [];
const fail = (m) => errors.push(m);

if (lock.lockfileVersion < 2 || !lock.packages) {
  fail(`web/package-lock.json: lockfileVersion ${lock.lockfileVersion} has no "packages" map (need npm >= 7)`);
}

// --- SPDX expressions: OR needs one allowed side, AND needs both; "X WITH Y" must be listed whole.
function licenseAllowed(expr) {
  const tokens = expr.replace(/\(/g, " ( ").replace(/\)/g, " ) ").split(/\s+/).filter(Boolean);
  let i = 0;
  const primary = () => {
    if (tokens[i] === "(") {
      i++;
      const v = or();
      if (tokens[i++] !== ")") throw new Error("unbalanced parentheses");
      return v;
    }
    let id = tokens[i++];
    if (!id || ["AND", "OR", "WITH", ")"].includes(id)) throw new Error(`unexpected '${id ?? "end"}'`);
    if (tokens[i] === "WITH") {
      id = `${id} WITH ${tokens[i + 1]}`;
      i += 2;
    }
    const allowed = LICENSES.has(id.replace(/\+$/, ""));
    if (allowed) seenLicenses.add(id.replace(/\+$/, ""));
    return allowed;
  };
  const and = () => {
    let v = primary();
    while (tokens[i] === "AND") {
      i++;
      v = primary() && v;
    }
    return v;
  };
  const or = () => {
    let v = and();
    while (tokens[i] === "OR") {
      i++;
      v = or() || v;
    }
    return v;
  };
  const v = or();
  if (i !== tokens.length) throw new Error(`trailing '${tokens[i]}'`);
  return v;
}

const counts = { packages: 0, dev: 0 };
const usedExceptions = new Set();
for (const [path, pkg] of Object.entries(lock.packages ?? {})) {
  if (path === "") continue; // the project itself
  const name = pkg.name ?? path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
  const id = `${name}@${pkg.version}`;
  counts.packages++;
  if (pkg.dev) counts.dev++;

  // provenance
  if (pkg.link || !path.includes("node_modules/")) {
    fail(`${path}: a linked or workspace package (not from the registry)`);
    continue;
  }
  if (pkg.resolved !== undefined && !pkg.resolved.startsWith(REGISTRY)) {
    fail(`${id}: resolved from ${pkg.resolved}, not from ${REGISTRY}`);
  }
  if (typeof pkg.integrity !== "string" || !pkg.integrity.split(/\s+/).some((h) => h.startsWith("sha512-"))) {
    fail(`${id}: no sha512 integrity hash in the lockfile (${pkg.integrity ?? "none"})`);
  }
  if (pkg.inBundle) fail(`${id}: bundled inside another package (not hashed on its own)`);
  if (pkg.hasInstallScript) {
    if (INSTALL_SCRIPTS[id]) usedExceptions.add(id);
    else fail(`${id}: runs an install script (add it to INSTALL_SCRIPTS with a reason if that is wanted)`);
  }

  // licence
  const lic = pkg.license;
  let ok = false;
  if (typeof lic === "string") {
    try {
      ok = licenseAllowed(lic);
    } catch (e) {
      fail(`${id}: licence '${lic}' is not an SPDX expression (${e.message})`);
      continue;
    }
  }
  if (!ok) {
    if (LICENSE_EXCEPTIONS[id]) usedExceptions.add(id);
    else fail(`${id}: licence ${lic === undefined ? "(none given)" : `'${lic}'`} is not in the allow-list${pkg.dev ? " (dev dependency)" : ""}`);
  }
}
for (const l of LICENSES) if (!seenLicenses.has(l)) warnings.push(`licence ${l} is allowed but no package uses it: remove it`);
for (const id of [...Object.keys(LICENSE_EXCEPTIONS), ...Object.keys(INSTALL_SCRIPTS)]) {
  if (!usedExceptions.has(id)) warnings.push(`exception for ${id} no longer matches anything: remove it`);
}

// package.json asks only for registry versions (no git, URLs, files, aliases or tags)
for (const field of ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"]) {
  for (const [name, spec] of Object.entries(manifest[field] ?? {})) {
    if (!/^[\d\s^~<>=.xX*|+-]+$/.test(spec) && !/^\d+\.\d+\.\d+-[0-9A-Za-z.-]+$/.test(spec)) {
      fail(`web/package.json ${field}.${name}: '${spec}' is not a registry version range`);
    }
  }
}

// known vulnerabilities: only where the registry answers npm audit
let audit = "NOT CHECKED";
let auditWhy = "";
const run = spawnSync("npm", ["audit", "--package-lock-only", "--json"], {
  cwd: WEB,
  encoding: "utf8",
  timeout: 60_000,
  env: { ...process.env, npm_config_audit: "true", npm_config_update_notifier: "false" },
});
let report = null;
try {
  report = JSON.parse(run.stdout);
} catch {
  auditWhy = run.error ? String(run.error.message) : `npm audit printed no JSON (exit ${run.status})`;
}
if (report && report.vulnerabilities && typeof report.vulnerabilities === "object") {
  audit = "checked (npm audit)";
  for (const [name, v] of Object.entries(report.vulnerabilities)) {
    for (const via of v.via ?? []) {
      if (typeof via !== "object") continue; // an indirect entry; the direct one is reported itself
      const ids = [via.url, via.url?.split("/").pop(), String(via.source)].filter(Boolean);
      if (ids.some((x) => AUDIT_IGNORE[x])) continue;
      fail(`${name} ${v.range}: ${via.severity} advisory ${via.url ?? via.source}: ${via.title}`);
    }
  }
} else if (report) {
  auditWhy = report.message ?? report.error?.summary ?? `no vulnerability report (exit ${run.status})`;
}

console.log(`web deps: ${counts.packages} packages in web/package-lock.json (${counts.dev} dev-only)`);
console.log(`  licences against the allow-list (${[...LICENSES].join(", ")}): checked, ${Object.keys(LICENSE_EXCEPTIONS).length} written exception(s)`);
console.log("  registry origin, sha512 integrity, no install scripts, no bundled or non-registry packages: checked");
if (audit === "NOT CHECKED") {
  console.log(`  known vulnerabilities: NOT CHECKED — no npm advisory data is reachable offline (npm audit: ${auditWhy.trim().split("\n")[0]})`);
} else {
  console.log(`  known vulnerabilities: ${audit}`);
}
for (const w of warnings) console.log(`warning: ${w}`);
for (const e of errors) console.log(`error: ${e}`);
if (errors.length) {
  console.log(`web deps: ${errors.length} problem(s); fix them or write an exception in scripts/check-web-deps.mjs`);
  process.exit(1);
}
console.log("web deps: ok");

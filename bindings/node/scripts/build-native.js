'use strict';
// Bundles libpqc_iiot.so into the package (lib/native/), so that an
// installed copy does not depend on the repository's build directory.
//
//   npm run build:native      build with `make -C ../.. shared` and copy;
//                             fails if that is impossible
//   (prepare) --if-in-repo    the same when run inside a pqc-iiot checkout
//                             with Go available; otherwise a note and exit 0,
//                             since the library can still be found at run
//                             time through PQC_IIOT_LIBRARY or ../../build/lib
//
// Nothing is compiled for Node itself: koffi ships prebuilt binaries.

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const pkg = path.resolve(__dirname, '..');
const repo = path.resolve(pkg, '..', '..');
const built = path.join(repo, 'build', 'lib', 'libpqc_iiot.so');
const dest = path.join(pkg, 'lib', 'native', 'libpqc_iiot.so');
const lenient = process.argv.includes('--if-in-repo');

function skip(why) {
  if (!lenient) {
    console.error(`build:native: ${why}`);
    process.exit(1);
  }
  console.error(`build:native: skipped, ${why}`);
  process.exit(0);
}

const inRepo = fs.existsSync(path.join(repo, 'Makefile')) &&
  fs.existsSync(path.join(repo, 'include', 'pqc_iiot.h')) &&
  fs.existsSync(path.join(repo, 'capi'));
if (!inRepo) skip(`${repo} is not a pqc-iiot checkout`);

const hasGo = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
if (hasGo) {
  const r = spawnSync('make', ['-C', repo, 'shared'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    // A checkout with Go that does not build is a real problem, lenient or not.
    console.error('build:native: `make shared` failed');
    process.exit(1);
  }
} else if (!fs.existsSync(built)) {
  skip('Go is not installed and build/lib/libpqc_iiot.so does not exist');
}

fs.mkdirSync(path.dirname(dest), { recursive: true });
// Copy to a temporary name and rename, so a process that has the old copy
// mapped keeps a consistent file and a reader never sees half a library.
const tmp = `${dest}.${process.pid}.tmp`;
fs.copyFileSync(built, tmp);
fs.renameSync(tmp, dest);
console.error(`build:native: ${path.relative(pkg, dest)} <- ${built}`);

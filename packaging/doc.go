// Package packaging holds what makes golive's Debian packages and tarballs
// (make dist: mkdist, debversion, the unit, the maintainer scripts, the man
// page) and, in its tests, checks what make dist wrote into dist/: lintian,
// systemd-analyze verify of the unit, the Depends of each package against
// the libraries its binary needs, the binary of the host's package run from
// the unpacked package, and the arm64 binary pushing to nginx-rtmp under
// qemu-user.
//
// make test runs make dist first. Elsewhere a test whose package is not in
// dist/ skips saying so; under CI=true it fails.
package packaging

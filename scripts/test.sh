#!/usr/bin/env bash
# Runs medchain's whole test suite: vet, unit and fuzz-seed tests, and the
# multi-node, crash and light-client tests on 127.0.0.1. Installs what it
# needs: Go modules, and the npm packages of js/, js/epcis/ and fhirtest/ (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
echo "== go vet"
go vet ./...
echo "== npm ci (js/: @hpke/core for the envelope interoperability tests)"
(cd js && npm ci --no-audit --no-fund --loglevel=error)
echo "== node --test (transaction and envelope formats in JavaScript)"
node --test js/
echo "== npm ci (fhirtest/: fhir-kit-client, a FHIR client library, for the FHIR interface tests)"
(cd fhirtest && npm ci --no-audit --no-fund --loglevel=error)
echo "== node --test (the FHIR R4 interface of a dev node through fhir-kit-client)"
node --test fhirtest/
echo "== npm ci (js/epcis/: epcis2.js and digital-link.js, which build the EPCIS test documents)"
(cd js/epcis && npm ci --no-audit --no-fund --loglevel=error)
echo "== EPCIS fixtures: internal/epcis/testdata/scenario must equal what js/epcis/make_fixtures.mjs builds"
fixtures="$(mktemp -d "${TMPDIR:-/tmp}/medchain-epcis.XXXXXX")"
node js/epcis/make_fixtures.mjs "$fixtures"
for f in "$fixtures"/*; do
	[ -e "$f" ] || continue
	if ! cmp -s "$f" "internal/epcis/testdata/scenario/$(basename "$f")"; then
		echo "stale EPCIS fixture $(basename "$f"): run (cd js/epcis && node make_fixtures.mjs) and commit" >&2
		exit 1
	fi
done
rm -rf "$fixtures"
if [ "$(id -u)" = 0 ] && ! command -v nft >/dev/null 2>&1; then
	echo "== apt-get install iproute2 nftables (the network faults of internal/chaos; without them its test skips)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 nftables >/dev/null || true
fi
# A real S3-compatible server for internal/blob's S3 tests: SeaweedFS's weed,
# built once into a cache directory (without it those tests skip, saying so).
weed_version=v0.0.0-20261109003541-7506e5f91cd6
weed_dir="${XDG_CACHE_HOME:-$HOME/.cache}/medchain-tools/seaweedfs-$weed_version"
if [ ! -x "$weed_dir/weed" ]; then
	# Its go.mod has replace directives, which `go install mod@version`
	# refuses: it is built as the main module from the module's source.
	echo "== go build github.com/seaweedfs/seaweedfs/weed@$weed_version (the S3 server of internal/blob's tests, once)"
	weed_src="$(timeout 600 go mod download -json "github.com/seaweedfs/seaweedfs@$weed_version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')" || weed_src=""
	if [ -n "$weed_src" ]; then
		weed_build="$(mktemp -d "${TMPDIR:-/tmp}/medchain-weed.XXXXXX")"
		cp -r "$weed_src/." "$weed_build" && chmod -R u+w "$weed_build"
		mkdir -p "$weed_dir"
		# Bounded: a slow first download must not eat the suite's budget.
		(cd "$weed_build" && timeout 900 go build -o "$weed_dir/weed" ./weed) ||
			echo "could not build weed: the S3 server tests will skip" >&2
		rm -rf "$weed_build"
	else
		echo "could not download seaweedfs: the S3 server tests will skip" >&2
	fi
fi
if [ -x "$weed_dir/weed" ]; then
	export MEDCHAIN_WEED="$weed_dir/weed"
fi
# The go test log goes to a new file per run (mktemp), so that runs side by
# side, or by different users, never share or overwrite one.
log="$(mktemp "${TMPDIR:-/tmp}/medchain-test.XXXXXX.log")"
trap 'echo "== go test log: $log"' EXIT
echo "== go test (log: $log)"
# -p 1 keeps the multi-node tests from competing with each other for the two cores.
go test -count=1 -timeout 40m -p 1 ./... 2>&1 | tee "$log"
# The web portal (web/, served by internal/portal): its built assets must be
# what web/src builds, and its pages are driven in a real browser (Debian's
# chromium, installed here when absent) against a dev node the test starts.
echo "== npm ci (web/: esbuild, @hpke/core, @noble/hashes, @noble/ciphers, playwright-core, @axe-core/playwright)"
(cd web && npm ci --no-audit --no-fund --loglevel=error)
echo "== web portal: internal/portal/dist must equal what web/build.mjs builds from web/src"
portal_dist="$(mktemp -d "${TMPDIR:-/tmp}/medchain-portal-dist.XXXXXX")"
node web/build.mjs "$portal_dist" >/dev/null
for f in "$portal_dist"/*; do
	[ -e "$f" ] || continue
	if ! cmp -s "$f" "internal/portal/dist/$(basename "$f")"; then
		echo "stale portal build internal/portal/dist/$(basename "$f"): run (cd web && npm ci && node build.mjs) and commit" >&2
		exit 1
	fi
done
rm -rf "$portal_dist"
if ! command -v chromium >/dev/null 2>&1; then
	echo "== apt-get install chromium (the browser the portal tests drive)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "== node --test web/test/ (the portal in headless chromium against a dev node; screenshots under \$PORTAL_SCREENSHOTS or a temp dir)"
portal_bin="$(mktemp -d "${TMPDIR:-/tmp}/medchain-portal-bin.XXXXXX")"
go build -o "$portal_bin/medchain" ./cmd/medchain
MEDCHAIN_BIN="$portal_bin/medchain" CHROMIUM="$(command -v chromium)" node --test --test-concurrency=1 web/test/
rm -rf "$portal_bin"

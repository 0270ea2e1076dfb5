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
# The go test log goes to a new file per run (mktemp), so that runs side by
# side, or by different users, never share or overwrite one.
log="$(mktemp "${TMPDIR:-/tmp}/medchain-test.XXXXXX.log")"
trap 'echo "== go test log: $log"' EXIT
echo "== go test (log: $log)"
# -p 1 keeps the multi-node tests from competing with each other for the two cores.
go test -count=1 -timeout 40m -p 1 ./... 2>&1 | tee "$log"

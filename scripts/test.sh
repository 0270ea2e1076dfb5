#!/usr/bin/env bash
# Runs medchain's whole test suite: vet, unit and fuzz-seed tests, and the
# multi-node, crash and light-client tests on 127.0.0.1. Installs nothing
# beyond Go modules today; later suites add their npm packages here.
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
echo "== go vet"
go vet ./...
echo "== node --test (transaction format interoperability, no npm packages)"
node --test js/
echo "== go test"
# -p 1 keeps the multi-node tests from competing with each other for the two cores.
go test -count=1 -timeout 40m -p 1 ./... 2>&1 | tee /tmp/medchain-test.log

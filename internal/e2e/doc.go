// Package e2e holds end-to-end tests that run real medchain networks as
// separate processes on 127.0.0.1 (see internal/testnet) and check what a
// user of the API would notice: transactions commit, nodes survive crashes
// and catch up, a network without quorum halts without forking, state
// replays to the same app hash, and governance changes the validator set.
//
// The tests are slow (minutes) and skipped with -short:
//
//	go test ./internal/e2e/ -v -count=1 -timeout 20m
package e2e

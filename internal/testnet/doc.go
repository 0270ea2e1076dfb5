// Package testnet runs real medchain networks for tests: it builds the
// medchain binary once per test binary, writes networks with `medchain
// testnet` (or a `medchain dev` home), and runs every node as a child process
// on 127.0.0.1 with its own process group, its output in a log file under the
// test's temporary directory.
//
// The caller's contract:
//   - Use Main as the package's TestMain, so the built binary is removed.
//   - Nodes belong to the test that created them: every node still running
//     when that test ends is killed (SIGKILL to its process group), and when
//     the test has failed the tail of each node's log is printed. On Linux a
//     node also dies with the test binary (parent-death signal), so a test
//     binary killed by -timeout leaves no node behind.
//   - Every address is on 127.0.0.1. Ports are chosen below the kernel's
//     ephemeral range and checked free; a network whose ports were taken
//     between the check and the bind is written again on other ports.
//   - Helpers that take a testing.TB must be called from the test goroutine;
//     the methods that return errors may be called from any goroutine.
//
// Only Unix systems are supported; elsewhere the helpers skip the test.
package testnet

// Package e2erecords tests patient-controlled encrypted records end to end,
// as their users meet them: through the medchain command line (cli.Execute)
// and the Go client, against real nodes.
//
// TestRecords runs one in-process network of two validators (node K is the
// gateway of development organization K: node0 dev-hospital, node1 dev-lab)
// with 100 ms blocks and a 10 s emergency access, and checks, as subtests:
// the write-grant-read round trip with its audit trail; revocation and
// expiry; refusals with their codes and no state change; erasure on every
// node; emergency access; the trail's time filters; the FHIR exports; and
// that no plaintext reaches blocks, state or logs. TestMultiProcess runs four validators as separate
// processes (internal/testnet) and checks reads through a node that must
// fetch the ciphertext from its peers; it is skipped with -short.
//
// The package has no code outside its tests; fixtures are in testdata/.
package e2erecords

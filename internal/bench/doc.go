// Package bench is medchain's load harness: it drives a network with signed
// transactions from many accounts in a realistic mix, open-loop at a fixed
// rate or closed-loop at the maximum, and measures what the chain commits.
//
// A run has four parts, each behind a small interface so that the same
// runner measures medchain and CometBFT's kvstore baseline alike:
//
//   - a Generator builds transactions, one lane at a time (a lane owns its
//     accounts, so each account's sequence is used in order);
//   - an Intake hands them to a node (one HTTP request per transaction, a
//     batch body, CometBFT's JSON-RPC, or the mempool in process);
//   - an Observer follows committed blocks, from which committed counts,
//     codes and submit-to-commit latencies are taken (never from the
//     submission responses);
//   - Run schedules the lanes, prints progress every second and returns
//     Results, which serialize to the JSON written by `medchain bench --out`.
//
// Latency is measured from the time a transaction was due (open loop: its
// slot in the schedule, so a generator that falls behind shows as latency
// rather than hiding it) or first sent (closed loop) to the time the
// observer saw its block. Blocks are polled, so latencies carry up to one
// poll interval of error.
package bench

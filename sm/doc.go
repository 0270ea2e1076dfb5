// Package sm is medchain's deterministic core: the transaction format, the
// execution context, stable error codes and the router that hands each message
// to its domain module.
//
// Contract: nothing here reads the clock, the network, the file system or a
// random source; time and height come from the block. Map iteration is sorted.
// Executing the same transactions on the same state gives the same state and
// the same results on every node.
package sm

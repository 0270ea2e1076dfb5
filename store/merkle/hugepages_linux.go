package merkle

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on the platforms medchain
// runs on (x86-64 and arm64 with 4 KiB base pages).
const hugePage = 2 << 20

// adviseHuge asks the kernel to back the 2 MiB-aligned interior of the
// size bytes at p with transparent huge pages (madvise MADV_HUGEPAGE). The
// default setting of most distributions ("madvise") gives them only to
// memory that asks. The memory is Go's own (pointer-free arena chunks); the
// advice changes how it is backed, not what it holds, and a refusal (an
// old kernel, huge pages off) changes nothing.
func adviseHuge(p unsafe.Pointer, size uintptr) {
	base := uintptr(p)
	start := (base + hugePage - 1) &^ (hugePage - 1)
	end := (base + size) &^ (hugePage - 1)
	if end <= start {
		return
	}
	_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, start-base)), end-start), syscall.MADV_HUGEPAGE)
}

package node

import "golang.org/x/sys/unix"

// setThreadNice sets the calling thread's nice value (Linux schedules
// threads, so PRIO_PROCESS with a thread id is that thread alone).
func setThreadNice(nice int) error {
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice)
}

// Package benchutil holds what benchmarks across packages share: the
// process's peak resident set, per phase, and its CPU time.
package benchutil

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PeakRSS reads the process's peak resident set (VmHWM) in bytes; 0 where
// /proc is not available.
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// ResetPeakRSS returns freed Go memory to the OS and restarts VmHWM
// (Linux clear_refs 5), so each benchmark or phase reports its own peak.
func ResetPeakRSS() {
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// CPUTime is the CPU time (user + system) the process has used so far, all
// threads (cgo ones included); 0 where getrusage is not available. On a
// shared machine a phase's CPU time varies far less than its wall time.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

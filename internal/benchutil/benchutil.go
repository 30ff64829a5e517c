// Package benchutil holds what benchmarks across packages share: the
// process's peak resident set, per phase.
package benchutil

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
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

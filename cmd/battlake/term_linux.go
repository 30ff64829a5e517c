package main

import (
	"os"
	"syscall"
	"unsafe"
)

// isTTY asks the kernel whether f is a terminal (TCGETS succeeds only on
// one); a character device such as /dev/null is not.
func isTTY(f *os.File) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}

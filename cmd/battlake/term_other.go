//go:build !linux

package main

import "os"

// isTTY approximates a terminal as a character device off Linux.
func isTTY(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

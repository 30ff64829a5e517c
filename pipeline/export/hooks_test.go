package export

// SetChunkBytes makes workers hand over chunks of about n bytes (tests
// that need many chunks per file) and returns the restore function.
func SetChunkBytes(n int) (restore func()) {
	old := chunkBytes
	chunkBytes = n
	return func() { chunkBytes = old }
}

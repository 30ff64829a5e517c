package objstore

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidKey classifies a key that cannot name an object; test with errors.Is.
var ErrInvalidKey = errors.New("invalid object key")

// stagingDir is the reserved top-level area for work in progress. FS keeps
// its temp files there; both stores reject keys inside it and never list it,
// so the two implementations expose the same key space.
const stagingDir = "_staging"

// ValidateKey reports whether key can name an object: a relative,
// slash-separated path without empty, "." or ".." segments, backslashes or
// NUL bytes, and outside the reserved _staging/ area. The same rules apply to
// every Store so that a lake can move between a folder and a bucket.
func ValidateKey(key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("key %q: %s: %w", key, err.Error(), ErrInvalidKey)
	}
	return nil
}

func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty")
	case strings.HasPrefix(key, "/"):
		return errors.New("absolute")
	case strings.ContainsAny(key, "\\\x00"):
		return errors.New("contains a backslash or NUL")
	}
	for i, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return errors.New("empty path segment")
		case ".", "..":
			return errors.New("relative path segment")
		}
		if i == 0 && seg == stagingDir {
			return errors.New("reserved staging area")
		}
	}
	return nil
}

// isStagingKey reports whether a listed key lives in the staging area.
func isStagingKey(key string) bool {
	return key == stagingDir || strings.HasPrefix(key, stagingDir+"/")
}

package ml

import "errors"

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrShape: lengths or dimensions of inputs disagree.
	ErrShape = errors.New("shape mismatch")
	// ErrEmpty: no rows (or no usable rows) to work on.
	ErrEmpty = errors.New("empty input")
	// ErrParams: a parameter is out of its documented range.
	ErrParams = errors.New("invalid parameters")
	// ErrNonFinite: an input that must be finite is NaN or ±Inf.
	ErrNonFinite = errors.New("non-finite value")
	// ErrArtifact: a serialized model is malformed or of another format.
	ErrArtifact = errors.New("bad model artifact")
)

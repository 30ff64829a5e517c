package calc

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsOnlyWhatTheLakeHolds: derived jobs see only the lake, so the
// kernels import the standard library and gonum, never the simulator
// (physics/) nor the synthesizer's fleet (jobs/fleet) nor anything else of
// the module.
func TestImportsOnlyWhatTheLakeHolds(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") && !strings.HasPrefix(path, "gonum.org/v1/gonum/") {
				t.Errorf("%s imports %s", f, path)
			}
			n++
		}
	}
	if n == 0 {
		t.Error("no imports seen: the check read nothing")
	}
}

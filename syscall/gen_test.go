package syscall

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGuestHeadersMatchTable keeps the guest's generated syscall header and
// wrappers in step with Table.
func TestGuestHeadersMatchTable(t *testing.T) {
	for path, want := range map[string]string{
		GuestHeaderPath:   GuestHeader(),
		GuestWrappersPath: GuestWrappers(),
	} {
		got, err := os.ReadFile(filepath.Join("..", path))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s is out of date with syscall/table.go; run `make generate`", path)
		}
	}
}

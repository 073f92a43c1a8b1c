// Command gen writes the guest's generated syscall header and wrappers from
// the table in package syscall. Run it from the repository root:
//
//	go run ./syscall/gen
package main

import (
	"log"
	"os"

	"github.com/aurora-vm/aurora-vm/syscall"
)

func main() {
	files := map[string]string{
		syscall.GuestHeaderPath:   syscall.GuestHeader(),
		syscall.GuestWrappersPath: syscall.GuestWrappers(),
	}
	for path, text := range files {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

package golden

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestNetStress runs net_stress with 200 connections at once, each
// echoing 1 MiB through a server process of its own, every byte checked
// by the client: once with the clients driving 16 non-blocking
// connections each through poll, once with a blocking client process per
// connection (about 400 processes).
func TestNetStress(t *testing.T) {
	engines(t)
	const conns, bytes = 200, 1 << 20
	for _, c := range []struct {
		name, perProc, how string
	}{
		{"poll", "16", "up to 16 per client process (poll)"},
		{"blocking", "0", "one per client process (blocking)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := runVM(t, nil, "run", "--max-procs", "512", "--memory", "1G", "--timeout", "300s",
				filepath.Join("build", "net_stress.elf"), fmt.Sprint(conns), fmt.Sprint(bytes), c.perProc)
			want := fmt.Sprintf("%d connections x %d bytes, %s\n"+
				"clients: %d of %d connections intact, %d bytes echoed and checked\n"+
				"server: %d connections echoed until EOF, failures 0\n",
				conns, bytes, c.how, conns, conns, conns*bytes, conns)
			t.Logf("net_stress %d %d %s:\n%s", conns, bytes, c.perProc, got.stdout)
			if got.status != 0 || got.stdout != want || got.stderr != "" {
				t.Errorf("status %d\n--- stdout:\n%s--- want:\n%s--- stderr:\n%s", got.status, got.stdout, want, got.stderr)
			}
		})
	}
}

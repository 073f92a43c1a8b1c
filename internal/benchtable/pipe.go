package main

import (
	"path/filepath"
	"strconv"
	"time"
)

// pipeRows measures pipes between two guest processes in one VM
// (testimages/pipe_bench.c) against the same source built natively, where
// the pipe is Linux's: a bulk stream written 64 KiB at a time (each side's
// figure per MiB), and 1-byte round trips over a pair of pipes (per round
// trip). As for the other rows, each figure is a run doing the work less a
// run doing none, divided by the amount.
func pipeRows(tmp string) [][]string {
	native := filepath.Join(tmp, "pipe_bench-native")
	gcc("-O2", "-static", "-I", "internal/benchtable/native",
		"-include", "internal/benchtable/native/pipe.h", "-o", native, "testimages/pipe_bench.c")
	const image = "testimages/build/pipe_bench.elf"
	bytes := func(mib string) string {
		n, err := strconv.Atoi(mib)
		check(err)
		return strconv.Itoa(n << 20)
	}

	var bulk, rr samples
	for i := 0; i < 5; i++ {
		bulk.add(
			perOp(256, func(n string) time.Duration { return runVM(image, "bulk", "65536", bytes(n)) }),
			perOp(2048, func(n string) time.Duration { return wall(native, "bulk", "65536", bytes(n)) }))
		rr.add(
			perOp(2000, func(n string) time.Duration { return runVM(image, "rr", n) }),
			perOp(50000, func(n string) time.Duration { return wall(native, "rr", n) }))
	}
	return [][]string{
		bulk.row("pipe bulk, 64 KiB writes: KVM vs native", mibPerSecond, "-"),
		rr.row("pipe 1 B round trips: KVM vs native", perSecond, "-"),
	}
}

package virtionet

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Faults are network faults the device injects into the frames crossing
// it, in both directions, to test that what runs over it copes: each frame
// is lost with probability Loss, sent twice with probability Dup, and held
// back behind the next frame with probability Reorder (for ReorderDelay at
// most, so that the last frame of a burst is late, not lost). The choices come
// from a generator seeded with Seed (one stream per direction), so a run
// with the same traffic makes the same choices.
type Faults struct {
	Loss, Dup, Reorder float64
	Seed               uint64
}

// Zero reports whether no fault is injected.
func (f Faults) Zero() bool { return f.Loss == 0 && f.Dup == 0 && f.Reorder == 0 }

func (f Faults) String() string {
	pct := func(p float64) string { return strconv.FormatFloat(100*p, 'g', -1, 64) + "%" }
	s := fmt.Sprintf("loss=%s,dup=%s,reorder=%s", pct(f.Loss), pct(f.Dup), pct(f.Reorder))
	if f.Seed != 0 {
		s += fmt.Sprintf(",seed=%d", f.Seed)
	}
	return s
}

// ReorderDelay is the longest a frame is held back for reordering.
const ReorderDelay = time.Millisecond

// ParseFaults reads faults written as the --net-faults flag takes them:
// comma-separated loss=, dup= and reorder= with a percentage ("5%") or a
// fraction ("0.05"), and optionally seed=N. An empty string is no faults.
func ParseFaults(s string) (Faults, error) {
	var f Faults
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	for _, part := range strings.Split(s, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Faults{}, fmt.Errorf("fault %q: want NAME=VALUE (loss=5%%,dup=1%%,reorder=5%%)", part)
		}
		if key == "seed" {
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return Faults{}, fmt.Errorf("fault seed %q is not a number", val)
			}
			f.Seed = n
			continue
		}
		var p *float64
		switch key {
		case "loss":
			p = &f.Loss
		case "dup":
			p = &f.Dup
		case "reorder":
			p = &f.Reorder
		default:
			return Faults{}, fmt.Errorf("unknown fault %q: want loss, dup, reorder or seed", key)
		}
		num, percent := strings.CutSuffix(val, "%")
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return Faults{}, fmt.Errorf("fault %s=%q: not a number", key, val)
		}
		if percent {
			v /= 100
		}
		if !(v >= 0 && v <= 1) {
			return Faults{}, fmt.Errorf("fault %s=%s: not between 0 and 100%%", key, val)
		}
		*p = v
	}
	return f, nil
}

// injector applies Faults to one direction's frames. It is used by one
// goroutine at a time (under the direction's lock).
type injector struct {
	f       Faults
	rng     *rand.Rand
	held    []byte // a frame held back to be sent after the next one
	heldHdr NetHdr
	holding bool
	timer   *time.Timer // sends the held frame when no next one comes

	lost, duplicated, reordered atomic.Uint64
}

// newInjector makes a direction's injector; flush sends the held frame
// (taking it with takeHeld, under the direction's lock) when ReorderDelay
// passes without a next frame.
func newInjector(f Faults, stream uint64, flush func()) *injector {
	in := &injector{f: f, rng: rand.New(rand.NewPCG(f.Seed, stream))}
	if f.Reorder > 0 {
		in.timer = time.AfterFunc(time.Hour, flush)
		in.timer.Stop()
	}
	return in
}

// stop stops the timer for good.
func (in *injector) stop() {
	if in.timer != nil {
		in.timer.Stop()
	}
}

// step decides the fate of one frame: how many copies of it go out now
// (0 when it is lost or held back), and whether the frame held back
// before goes out after them. A held frame is copied, as frame is only
// valid during the call.
func (in *injector) step(hdr NetHdr, frame []byte) (copies int, release bool) {
	if in.f.Zero() {
		return 1, false
	}
	if in.f.Loss > 0 && in.rng.Float64() < in.f.Loss {
		in.lost.Add(1)
		return 0, false
	}
	if !in.holding && in.f.Reorder > 0 && in.rng.Float64() < in.f.Reorder {
		in.reordered.Add(1)
		in.held = append(in.held[:0], frame...)
		in.heldHdr = hdr
		in.holding = true
		in.timer.Reset(ReorderDelay)
		return 0, false
	}
	copies = 1
	if in.f.Dup > 0 && in.rng.Float64() < in.f.Dup {
		in.duplicated.Add(1)
		copies = 2
	}
	return copies, in.holding
}

// takeHeld returns the held frame and forgets it. A timer that fires
// late finds nothing held, or a later frame, which it sends early.
func (in *injector) takeHeld() (NetHdr, []byte) {
	in.holding = false
	if in.timer != nil {
		in.timer.Stop()
	}
	return in.heldHdr, in.held
}

package kvm

// Usage reports how many vCPUs the engine has created and how many of
// them wait idle in its pool, and how many guest frames it holds for its
// own pages (shared stubs and tables, and every vCPU's area). With no
// thread running, every vCPU is idle; leak checks compare these.
func (e *Engine) Usage() (vcpus, idle int, frames uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nextSlot, len(e.pool), 3 + uint64(e.nextSlot)*vcpuPages
}

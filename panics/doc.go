// Package panics is the one counter of recovered panics, labelled by
// component (webui, mpa, jobs, queue, ...). Every goroutine that recovers a
// panic counts it here; /metrics exports the counts as
// postdeck_panics_total{component}, and tests fail when a run counted any.
// It is a leaf package (standard library only).
package panics

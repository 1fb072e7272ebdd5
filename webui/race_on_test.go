//go:build race

package webui

// raceDetector tells tests that the race detector is on: it allocates
// for itself, so allocation bounds do not hold.
const raceDetector = true

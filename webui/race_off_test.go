//go:build !race

package webui

// raceDetector tells tests that the race detector is on (race_on_test.go).
const raceDetector = false

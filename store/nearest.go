package store

import "unicode/utf8"

// Nearest is the word of words at most two edits from typed (a letter
// left out, doubled, swapped or wrong), or "": the "did you mean" of a
// sentence that refuses a misspelled command or name.
//
// A word whose length differs from typed's by more than two is not
// compared, so a typed string of megabytes (a key in a request body)
// costs one pass over it, not a table of its length by each word's.
func Nearest(typed string, words []string) string {
	best, bestD := "", 3
	n := utf8.RuneCountInString(typed)
	for _, w := range words {
		if diff := n - utf8.RuneCountInString(w); diff > 2 || diff < -2 {
			continue
		}
		if d := editDistance(typed, w); d < bestD {
			best, bestD = w, d
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance of a and b (optimal
// string alignment): a swap of two letters counts one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

package webui

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// checkGzipPage compresses page (with placeholders) once and checks that
// the answer for token is a gzip stream Go's reader takes (CRC and length
// checked) that decodes to exactly what fill writes, and that the token
// is in it as it is (never compressed with the rest).
func checkGzipPage(t *testing.T, pc *pageCache, page []byte, token string) {
	t.Helper()
	var want bytes.Buffer
	pc.fill(&want, page, token)
	g := compressPage(page, pc.placeholder)
	var got bytes.Buffer
	if !g.write(&got, token) {
		t.Fatalf("write refused a token of %d bytes", len(token))
	}
	zr, err := gzip.NewReader(bytes.NewReader(got.Bytes()))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	zr.Multistream(false)
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip body (%d pieces): %v", len(g.pieces), err)
	}
	if !bytes.Equal(plain, want.Bytes()) {
		t.Fatalf("decoded page differs from the filled page:\n got %q\nwant %q", plain, want.Bytes())
	}
	if n := bytes.Count(page, pc.placeholder); token != "" && bytes.Count(got.Bytes(), []byte(token)) < n {
		t.Fatalf("the token is in the answer %d times as it is, want at least %d (one stored block per placeholder)", bytes.Count(got.Bytes(), []byte(token)), n)
	}
}

// TestGzipPage: a cached page compressed in pieces and filled per answer
// decodes to the filled page, for placeholders anywhere (first, last,
// side by side, none), and for pages that compress well and badly.
func TestGzipPage(t *testing.T) {
	pc := newPageCache()
	ph := string(pc.placeholder)
	tok, err := randomToken()
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{
		"",
		ph,
		ph + ph,
		"<p>no token</p>",
		ph + `<input name="csrf" value="` + ph + `">` + strings.Repeat("<tr><td>row</td></tr>", 2000) + ph,
		`<form><input value="` + ph + `"></form>` + strings.Repeat("x", 70000) + ph,
	} {
		checkGzipPage(t, pc, []byte(page), tok)
		checkGzipPage(t, pc, []byte(page), "")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var b strings.Builder
		for range r.IntN(20) {
			switch r.IntN(3) {
			case 0:
				b.WriteString(ph)
			case 1:
				b.WriteString(strings.Repeat("<td>x</td>", r.IntN(500)))
			default:
				raw := make([]byte, r.IntN(3000))
				for i := range raw {
					raw[i] = byte(r.UintN(256))
				}
				b.Write(raw)
			}
		}
		checkGzipPage(t, pc, []byte(b.String()), tok)
	}
	if compressPage([]byte(ph), pc.placeholder).write(io.Discard, strings.Repeat("t", maxStoredBlock+1)) {
		t.Fatal("a token longer than one stored block was written")
	}
}

// FuzzGzipPage: any page, any token of a stored block's size.
func FuzzGzipPage(f *testing.F) {
	pc := newPageCache()
	ph := string(pc.placeholder)
	f.Add("<p>"+ph+"</p>", "token")
	f.Add(ph+ph, "")
	f.Add(strings.Repeat("a", 100)+ph, "AbC-_")
	f.Fuzz(func(t *testing.T, page, token string) {
		if len(token) > maxStoredBlock || len(page) > 1<<20 {
			t.Skip()
		}
		checkGzipPage(t, pc, []byte(page), token)
	})
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"":                                  false,
		"gzip":                              true,
		"GZip":                              true,
		"gzip, deflate, br":                 true,
		"br, gzip;q=0.5":                    true,
		"deflate, gzip ; q=1.0":             true,
		"gzip;q=0":                          false,
		"gzip;q=0.000":                      false,
		"gzip;q=nonsense":                   false,
		"*":                                 false,
		"identity":                          false,
		"x-gzip":                            false,
		strings.Repeat("br,", 100) + "gzip": false, // past the bound
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}

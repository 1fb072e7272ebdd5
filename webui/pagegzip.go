package webui

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"strings"
	"sync"
)

// gzipPage is a cached page compressed once, for every caller of its key:
// the page is cut at each CSRF placeholder, and each piece between them is
// compressed on its own into a deflate stream that ends on a byte
// boundary (a sync flush; the last piece ends with the final block). An
// answer is those pieces with the caller's token between them as stored
// (uncompressed) deflate blocks, inside a gzip header and trailer, whose
// CRC-32 and length are those of the filled page.
//
// Two things follow. An answer costs a CRC over the page and a copy, not
// a compression: a page of 24 KB goes out as about 5 KB, which is what
// the web process and the network carry. And the token is never
// compressed together with anything: what a page reflects from a caller
// (a filter, a name) cannot reveal it through the compressed length
// (BREACH), because no back-reference crosses the token and the token's
// own block has its own length, whatever the token is.
type gzipPage struct {
	pieces     [][]byte // raw page between placeholders: len(deflated) of them
	deflated   [][]byte // each piece compressed, ending on a byte boundary
	compressed int      // total bytes of deflated
}

// gzipHeader is a gzip member header: deflate, no flags, no time, no
// extra fields, operating system unknown.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// maxStoredBlock is what one stored deflate block holds.
const maxStoredBlock = 0xffff

var flateWriters = sync.Pool{New: func() any {
	w, err := flate.NewWriter(nil, flate.DefaultCompression)
	if err != nil {
		panic("flate writer: " + err.Error()) // only for a bad level
	}
	return w
}}

// compressPage cuts page at each placeholder and compresses the pieces.
func compressPage(page, placeholder []byte) *gzipPage {
	g := &gzipPage{}
	for {
		i := bytes.Index(page, placeholder)
		if i < 0 {
			g.pieces = append(g.pieces, page)
			break
		}
		g.pieces = append(g.pieces, page[:i])
		page = page[i+len(placeholder):]
	}
	w := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(w)
	for i, p := range g.pieces {
		var out bytes.Buffer
		w.Reset(&out)
		_, _ = w.Write(p) // a bytes.Buffer does not fail
		if i == len(g.pieces)-1 {
			_ = w.Close()
		} else {
			_ = w.Flush()
		}
		g.deflated = append(g.deflated, out.Bytes())
		g.compressed += out.Len()
	}
	return g
}

// write writes the page with token in each placeholder's place, as one
// gzip member. ok is false (and nothing written) for a token too long for
// one stored block, which no session's token is.
func (g *gzipPage) write(dst interface{ Write([]byte) (int, error) }, token string) bool {
	if len(token) > maxStoredBlock {
		return false
	}
	crc, size := uint32(0), uint32(0)
	for i, p := range g.pieces {
		if i > 0 {
			crc = crc32.Update(crc, crc32.IEEETable, []byte(token))
			size += uint32(len(token))
		}
		crc = crc32.Update(crc, crc32.IEEETable, p)
		size += uint32(len(p))
	}
	_, _ = dst.Write(gzipHeader)
	var stored [5]byte // BFINAL 0, BTYPE 00, then LEN and NLEN
	binary.LittleEndian.PutUint16(stored[1:], uint16(len(token)))
	binary.LittleEndian.PutUint16(stored[3:], ^uint16(len(token)))
	for i, d := range g.deflated {
		if i > 0 {
			_, _ = dst.Write(stored[:])
			_, _ = dst.Write([]byte(token))
		}
		_, _ = dst.Write(d)
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc)
	binary.LittleEndian.PutUint32(trailer[4:], size)
	_, _ = dst.Write(trailer[:])
	return true
}

// acceptsGzip tells whether an Accept-Encoding header value takes gzip:
// named (any case), with no weight of zero. A wildcard is not taken for
// it: a client that names no encoding gets the page as it is.
func acceptsGzip(header string) bool {
	for n := 0; header != "" && n < 32; n++ { // bounded: a header has a few codings
		var part string
		part, header, _ = strings.Cut(header, ",")
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || q <= 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

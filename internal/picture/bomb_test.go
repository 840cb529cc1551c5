package picture

import (
	"bytes"
	"math/bits"
)

// progressiveJPEG writes a progressive JPEG (SOF2) of w x h, one component
// per sampling factor (0x11 for 1x1, 0x22 for 2x2...), and scans AC scans
// taking the components in turn, each coding no coefficient at all: the
// whole component as end-of-band runs, a few bytes a scan, yet the decoder
// visits every block of the component in every scan. The bomb of the
// issue: 5792 x 5792 grey with a few hundred such scans took seconds and
// 160 MiB in image/jpeg from 7 KB.
func progressiveJPEG(w, h int, sampling []byte, scans int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xd8})
	seg := func(marker byte, payload []byte) {
		b.Write([]byte{0xff, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)})
		b.Write(payload)
	}
	q := make([]byte, 65) // table 0, 8-bit precision, every step 1
	for i := 1; i < 65; i++ {
		q[i] = 1
	}
	seg(0xdb, q)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(len(sampling))}
	for c, hv := range sampling {
		sof = append(sof, byte(c+1), hv, 0)
	}
	seg(0xc2, sof)
	// AC table 0: the 15 end-of-band-run symbols EOBn (n<<4) with the
	// 4-bit codes 0000..1110.
	dht := []byte{0x10, 0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for n := range 15 {
		dht = append(dht, byte(n<<4))
	}
	seg(0xc4, dht)
	h0, v0 := int(sampling[0]>>4), int(sampling[0]&15)
	if len(sampling) == 1 {
		h0, v0 = 1, 1
	}
	mxx, myy := (w+8*h0-1)/(8*h0), (h+8*v0-1)/(8*v0)
	data := make([][]byte, len(sampling))
	for c, hv := range sampling {
		hc, vc := int(hv>>4), int(hv&15)
		if len(sampling) == 1 {
			hc, vc = 1, 1
		}
		// The blocks image/jpeg visits in a one-component scan.
		blocks := min(mxx*hc, (w+7)/8) * min(myy*vc, (h+7)/8)
		var entropy bitWriter
		for run := blocks; run > 0; {
			r := min(run, 1<<15-1)
			n := bits.Len(uint(r)) - 1
			entropy.write(uint32(n), 4)
			entropy.write(uint32(r-1<<n), n)
			run -= r
		}
		data[c] = entropy.flush()
	}
	for i := range scans {
		c := i % len(sampling)
		seg(0xda, []byte{1, byte(c + 1), 0x00, 1, 63, 0})
		b.Write(data[c])
	}
	b.Write([]byte{0xff, 0xd9})
	return b.Bytes()
}

// bitWriter writes entropy-coded bits, stuffing a 0 after each 0xff.
type bitWriter struct {
	out   []byte
	acc   uint32
	nbits int
}

func (bw *bitWriter) write(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		bw.acc = bw.acc<<1 | (v>>i)&1
		bw.nbits++
		if bw.nbits == 8 {
			bw.out = append(bw.out, byte(bw.acc))
			if byte(bw.acc) == 0xff {
				bw.out = append(bw.out, 0)
			}
			bw.acc, bw.nbits = 0, 0
		}
	}
}

// flush pads the last byte with ones, as the standard says.
func (bw *bitWriter) flush() []byte {
	for bw.nbits != 0 {
		bw.write(1, 1)
	}
	return bw.out
}

package picture

// What a JPEG costs to decode is decided by its headers, which the
// standard decoder reads only as it goes: a progressive JPEG of empty scans
// is a few bytes a scan, yet every scan walks every block of its component,
// so thousands of scans in a few kilobytes keep a core busy for minutes.
// jpegFrame walks the segments first, the way image/jpeg does, and says
// how many scans the decoder would run and how much memory it would take.

// jpegFrame is what the decoder will allocate and do, read from the
// headers.
type jpegFrame struct {
	width, height int
	progressive   bool
	comps         []jpegComponent
	scans         int  // SOS segments (counting stops past MaxScans)
	jfif          bool // the last APP0 says JFIF, as the decoder keeps it
	adobe         bool // an APP14 Adobe segment
	adobeRGB      bool // ... whose transform says RGB (0)
	repeated      bool // a sequential JPEG codes a component in two scans
}

type jpegComponent struct {
	id   byte
	h, v int
}

// The markers image/jpeg handles; any other ends its decoding with an
// error, so the walk stops there too.
const (
	markerSOF0, markerSOF1, markerSOF2 = 0xc0, 0xc1, 0xc2
	markerDHT, markerDQT, markerDRI    = 0xc4, 0xdb, 0xdd
	markerSOS, markerEOI, markerCOM    = 0xda, 0xd9, 0xfe
	markerAPP0, markerAPP14, markerAPP = 0xe0, 0xee, 0xef
	markerRST0, markerRST7             = 0xd0, 0xd7
)

// inspectJPEG walks b's segments as image/jpeg's decode loop does (the
// same liberties: bytes between segments skipped, fill bytes, a stray
// "\xff\x00" or restart marker ignored), so every scan the decoder would
// run is counted. The walk never decodes entropy-coded data: a scan's data
// ends where the decoder's would, at the first marker that is no restart
// marker. It stops at the end of the image, at what the decoder would
// refuse, or once the scans pass MaxScans.
func inspectJPEG(b []byte) jpegFrame {
	var f jpegFrame
	seen := map[byte]bool{} // components a sequential scan has coded
	i := 2                  // past SOI, which Format checked
	for i+1 < len(b) && f.scans <= MaxScans {
		// The decoder reads two bytes and slides over anything that is not
		// 0xff; "\xff\x00" is a stray pair, skipped whole.
		if b[i] != 0xff {
			i++
			continue
		}
		marker := b[i+1]
		i += 2
		if marker == 0 {
			continue
		}
		for marker == 0xff { // fill bytes
			if i >= len(b) {
				return f
			}
			marker = b[i]
			i++
		}
		if marker == markerEOI {
			return f
		}
		if markerRST0 <= marker && marker <= markerRST7 {
			continue
		}
		if i+2 > len(b) {
			return f
		}
		n := (int(b[i])<<8 | int(b[i+1])) - 2
		i += 2
		if n < 0 || i+n > len(b) {
			return f // the decoder fails here
		}
		seg := b[i : i+n]
		i += n
		switch {
		case marker == markerSOF0 || marker == markerSOF1 || marker == markerSOF2:
			if f.comps != nil || !f.readSOF(seg, marker == markerSOF2) {
				return f
			}
		case marker == markerSOS:
			if f.comps == nil {
				return f // "missing SOF marker"
			}
			f.scans++
			if !f.progressive && len(seg) >= 1 {
				for c := 0; c < int(seg[0]) && 1+2*c < len(seg); c++ {
					id := seg[1+2*c]
					f.repeated = f.repeated || seen[id]
					seen[id] = true
				}
			}
			i = scanEnd(b, i)
		case marker == markerAPP0:
			if n >= 5 {
				f.jfif = string(seg[:5]) == "JFIF\x00"
			}
		case marker == markerAPP14:
			if n >= 12 && string(seg[:5]) == "Adobe" {
				f.adobe, f.adobeRGB = true, seg[11] == 0
			}
		case marker == markerDHT, marker == markerDQT, marker == markerDRI, marker == markerCOM,
			markerAPP0 <= marker && marker <= markerAPP:
		default:
			return f // an unknown marker: the decoder stops with an error
		}
	}
	return f
}

// readSOF keeps the frame header the way the decoder reads it: 8-bit
// precision, 1, 3 or 4 components, sampling factors 1, 2 or 4.
func (f *jpegFrame) readSOF(seg []byte, progressive bool) bool {
	if len(seg) < 6 || seg[0] != 8 {
		return false
	}
	nComp := int(seg[5])
	if (nComp != 1 && nComp != 3 && nComp != 4) || len(seg) != 6+3*nComp {
		return false
	}
	f.height, f.width = int(seg[1])<<8|int(seg[2]), int(seg[3])<<8|int(seg[4])
	f.progressive = progressive
	for c := range nComp {
		h, v := int(seg[7+3*c]>>4), int(seg[7+3*c]&15)
		if h < 1 || h > 4 || v < 1 || v > 4 || h == 3 || v == 3 {
			return false
		}
		if nComp == 1 {
			h, v = 1, 1 // one component is non-interleaved whatever it says
		}
		f.comps = append(f.comps, jpegComponent{id: seg[6+3*c], h: h, v: v})
	}
	return true
}

// scanEnd is where a scan's entropy-coded data starting at i ends: the
// first 0xff that is neither stuffing ("\xff\x00") nor a restart marker,
// as the decoder, which cannot read past such a marker, finds it.
func scanEnd(b []byte, i int) int {
	for i+1 < len(b) {
		if b[i] != 0xff {
			i++
			continue
		}
		if next := b[i+1]; next == 0 || (markerRST0 <= next && next <= markerRST7) {
			i += 2
			continue
		}
		return i
	}
	return len(b)
}

// decodedBytes is what image/jpeg allocates for the frame: its planes,
// padded to whole MCUs; for a progressive JPEG also every coefficient of
// every component (a [64]int32 block per 8 x 8 samples: 4 bytes a
// sample) until the last scan; and an RGBA or CMYK copy for a 4-component
// or RGB JPEG. 0 when there is no usable frame header.
func (f jpegFrame) decodedBytes() int64 {
	if len(f.comps) == 0 || f.width <= 0 || f.height <= 0 {
		return 0
	}
	h0, v0 := f.comps[0].h, f.comps[0].v
	mxx := int64((f.width + 8*h0 - 1) / (8 * h0))
	myy := int64((f.height + 8*v0 - 1) / (8 * v0))
	var samples int64
	for _, c := range f.comps {
		samples += 64 * int64(c.h*c.v) * mxx * myy
	}
	n := samples
	if f.progressive {
		n += 4 * samples
	}
	rgb := len(f.comps) == 3 && !f.jfif && (f.adobe && f.adobeRGB || f.comps[0].id == 'R' && f.comps[1].id == 'G' && f.comps[2].id == 'B')
	if len(f.comps) == 4 || rgb {
		n += 4 * int64(f.width) * int64(f.height)
	}
	return n
}

package media

// The MPEG-TS muxer (ISO/IEC 13818-1): one program, one elementary stream per segment file, one
// PES packet per frame, PAT and PMT at the start of each segment, a PCR on the first packet of
// every PES packet.

const (
	packetSize = 188
	pidPAT     = 0x0000
	pidPMT     = 0x1000
	pidVideo   = 0x0100
	pidAudio   = 0x0101
	// pesHeaderSize is a PES header with a PTS only: start code, stream id, length, flags, PTS.
	pesHeaderSize = 14
	// pcrFieldSize is an adaptation field that carries a PCR: length, flags, 6 bytes of PCR.
	pcrFieldSize = 8
	ptsWrap      = 1 << 33
	// pcrLead is how far the PCR runs ahead of a frame's PTS (100 ms).
	pcrLead = clock / 10
)

// tsPackets is how many TS packets a frame of size bytes takes: a PES header and the frame, the
// first packet also carrying the PCR.
func tsPackets(size int) uint64 {
	n := pesHeaderSize + size
	first := packetSize - 4 - pcrFieldSize
	if n <= first {
		return 1
	}
	return 1 + uint64((n-first+packetSize-5)/(packetSize-4))
}

// appendPSI appends the PAT and the PMT of a program whose one stream (and PCR) is on pid.
func appendPSI(dst []byte, pid uint16, streamType byte, cc byte) []byte {
	pat := []byte{
		0x00, 0xB0, 13, // table_id, section_syntax_indicator, section_length
		0x00, 0x01, 0xC1, 0x00, 0x00, // transport_stream_id 1, version 0, current, section 0 of 0
		0x00, 0x01, 0xE0 | pidPMT>>8, pidPMT & 0xFF, // program 1 -> PMT PID
	}
	pmt := []byte{
		0x02, 0xB0, 18,
		0x00, 0x01, 0xC1, 0x00, 0x00, // program_number 1
		0xE0 | byte(pid>>8), byte(pid), 0xF0, 0x00, // PCR_PID, program_info_length 0
		streamType, 0xE0 | byte(pid>>8), byte(pid), 0xF0, 0x00,
	}
	dst = appendSection(dst, pidPAT, pat, cc)
	return appendSection(dst, pidPMT, pmt, cc)
}

func appendSection(dst []byte, pid uint16, section []byte, cc byte) []byte {
	dst = append(dst, 0x47, 0x40|byte(pid>>8), byte(pid), 0x10|cc&0xF, 0x00) // payload_unit_start, pointer_field 0
	dst = append(dst, section...)
	crc := crc32MPEG2(section)
	dst = append(dst, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
	for range packetSize - 5 - len(section) - 4 {
		dst = append(dst, 0xFF)
	}
	return dst
}

// appendPES appends one frame as a PES packet in TS packets on pid, continuity counters from cc.
func appendPES(dst []byte, pid uint16, streamID byte, f []byte, key bool, pts uint64, cc byte) []byte {
	var hdr [pesHeaderSize]byte
	hdr[2], hdr[3] = 1, streamID
	if l := 8 + len(f); l <= 0xFFFF { // 0 (unbounded) is allowed for video only, and only needed there
		hdr[4], hdr[5] = byte(l>>8), byte(l)
	}
	hdr[6], hdr[7], hdr[8] = 0x84, 0x80, 5 // data_alignment_indicator; PTS only; header data length
	hdr[9] = 0x21 | byte(pts>>29)&0x0E
	hdr[10] = byte(pts >> 22)
	hdr[11] = byte(pts>>14) | 1
	hdr[12] = byte(pts >> 7)
	hdr[13] = byte(pts<<1) | 1
	rest := pesHeaderSize + len(f) // bytes of header and frame still to write
	first := true
	for rest > 0 {
		room := packetSize - 4
		if first {
			room -= pcrFieldSize
		}
		n := min(rest, room)
		stuff := room - n
		b0 := byte(pid >> 8)
		if first {
			b0 |= 0x40
		}
		afc := byte(0x10)
		if first || stuff > 0 {
			afc = 0x30
		}
		dst = append(dst, 0x47, b0, byte(pid), afc|cc&0xF)
		cc++
		switch {
		case first:
			flags := byte(0x10) // PCR
			if key {
				flags |= 0x40 // random_access_indicator
			}
			pcr := (pts + ptsWrap - pcrLead) % ptsWrap
			dst = append(dst, byte(pcrFieldSize-1+stuff), flags,
				byte(pcr>>25), byte(pcr>>17), byte(pcr>>9), byte(pcr>>1), byte(pcr<<7)|0x7E, 0x00)
		case stuff == 1:
			dst = append(dst, 0x00)
			stuff = 0
		case stuff > 1:
			dst = append(dst, byte(stuff-1), 0x00)
			stuff -= 2
		}
		for range stuff {
			dst = append(dst, 0xFF)
		}
		// The header first, then the frame.
		done, end := pesHeaderSize+len(f)-rest, pesHeaderSize+len(f)-rest+n
		if done < pesHeaderSize {
			h := min(end, pesHeaderSize)
			dst = append(dst, hdr[done:h]...)
			done = h
		}
		dst = append(dst, f[done-pesHeaderSize:end-pesHeaderSize]...)
		rest -= n
		first = false
	}
	return dst
}

var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc32MPEG2 is the CRC of PSI sections: polynomial 0x04C11DB7, not reflected, initial value all
// ones, no final XOR.
func crc32MPEG2(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, x := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^x]
	}
	return crc
}

package graph

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"
)

// The index's binary form, cached in the workspace per revision so that
// opening a big workspace reads one blob instead of millions of rows. Arrays
// are stored little-endian, each section padded to 8 bytes; on little-endian
// machines decoding aliases the blob instead of copying it.

const (
	indexMagic   = "FBIX"
	indexVersion = 1
)

// ErrIndexFormat marks a cached index blob that cannot be read (damaged, or
// written by another version); callers recompile.
var ErrIndexFormat = errors.New("unreadable index cache")

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

type encoder struct{ b []byte }

func (e *encoder) pad() {
	for len(e.b)%8 != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

func (e *encoder) bytes(p []byte) {
	e.u64(uint64(len(p)))
	e.b = append(e.b, p...)
	e.pad()
}

func encodeSlice[T uint16 | uint32 | int32](e *encoder, s []T) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	e.u64(uint64(len(s)))
	for _, v := range s {
		switch size {
		case 2:
			e.b = binary.LittleEndian.AppendUint16(e.b, uint16(v))
		default:
			e.b = binary.LittleEndian.AppendUint32(e.b, uint32(v))
		}
	}
	e.pad()
}

// MarshalBinary encodes the index.
func (ix *Index) MarshalBinary() ([]byte, error) {
	size := len(ix.idData) + 4*(len(ix.idOff)+len(ix.runsOn)+len(ix.resOff)+len(ix.res)+len(ix.fwdOff)+
		len(ix.fwdDst)+len(ix.portOf)+len(ix.revOff)+len(ix.revSrc)+len(ix.revSlot)) + 2*len(ix.slotInfo) + 2*len(ix.kind) + 1024
	e := &encoder{b: make([]byte, 0, size)}
	e.b = append(e.b, indexMagic...)
	e.b = binary.LittleEndian.AppendUint32(e.b, indexVersion)
	e.bytes([]byte(ix.idData))
	encodeSlice(e, ix.idOff)
	e.bytes(ix.kind)
	crown := make([]byte, len(ix.crown))
	for i, c := range ix.crown {
		if c {
			crown[i] = 1
		}
	}
	e.bytes(crown)
	encodeSlice(e, ix.runsOn)
	encodeSlice(e, ix.resOff)
	encodeSlice(e, ix.res)
	encodeSlice(e, ix.fwdOff)
	encodeSlice(e, ix.fwdDst)
	encodeSlice(e, ix.portOf)
	encodeSlice(e, ix.revOff)
	encodeSlice(e, ix.revSrc)
	encodeSlice(e, ix.revSlot)
	encodeSlice(e, ix.slotInfo)
	// Port sets and journeys are small: JSON keeps them simple.
	tail, err := json.Marshal(struct {
		PortSets [][]PortRange
		Journeys []CJourney
	}{ix.portSets, ix.journeys})
	if err != nil {
		return nil, err
	}
	e.bytes(tail)
	return e.b, nil
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) u64() uint64 {
	if d.err != nil || d.off+8 > len(d.b) {
		d.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrIndexFormat, msg, d.off)
	}
}

func (d *decoder) skipPad() {
	for d.off%8 != 0 {
		d.off++
	}
}

func (d *decoder) bytes() []byte {
	n := d.u64()
	if d.err != nil || n > uint64(len(d.b)-d.off) {
		d.fail("bad length")
		return nil
	}
	p := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	d.skipPad()
	return p
}

func decodeSlice[T uint16 | uint32 | int32](d *decoder) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	n := d.u64()
	if d.err != nil || n > uint64(len(d.b)-d.off)/uint64(size) {
		d.fail("bad array length")
		return nil
	}
	raw := d.b[d.off : d.off+int(n)*size]
	d.off += int(n) * size
	d.skipPad()
	if n == 0 {
		return []T{}
	}
	if littleEndian && uintptr(unsafe.Pointer(&raw[0]))%uintptr(size) == 0 {
		return unsafe.Slice((*T)(unsafe.Pointer(&raw[0])), n)
	}
	out := make([]T, n)
	for i := range out {
		if size == 2 {
			out[i] = T(binary.LittleEndian.Uint16(raw[2*i:]))
		} else {
			out[i] = T(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	return out
}

// UnmarshalIndex decodes an index. The returned index may alias data, which
// must not be modified afterwards. It checks the structure's invariants, so a
// damaged blob is an ErrIndexFormat, never an out-of-range panic later.
func UnmarshalIndex(data []byte) (*Index, error) {
	if len(data) < 8 || string(data[:4]) != indexMagic {
		return nil, fmt.Errorf("%w: not an index", ErrIndexFormat)
	}
	if v := binary.LittleEndian.Uint32(data[4:]); v != indexVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrIndexFormat, v, indexVersion)
	}
	d := &decoder{b: data, off: 8}
	ix := &Index{}
	ix.idData = string(d.bytes())
	ix.idOff = decodeSlice[uint32](d)
	ix.kind = d.bytes()
	crown := d.bytes()
	ix.runsOn = decodeSlice[int32](d)
	ix.resOff = decodeSlice[uint32](d)
	ix.res = decodeSlice[int32](d)
	ix.fwdOff = decodeSlice[uint32](d)
	ix.fwdDst = decodeSlice[int32](d)
	ix.portOf = decodeSlice[uint32](d)
	ix.revOff = decodeSlice[uint32](d)
	ix.revSrc = decodeSlice[int32](d)
	ix.revSlot = decodeSlice[int32](d)
	ix.slotInfo = decodeSlice[uint16](d)
	tail := d.bytes()
	if d.err == nil && d.off != len(d.b) {
		d.fail("length does not match its content")
	}
	if d.err != nil {
		return nil, d.err
	}
	var t struct {
		PortSets [][]PortRange
		Journeys []CJourney
	}
	if err := json.Unmarshal(tail, &t); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIndexFormat, err)
	}
	ix.portSets, ix.journeys = t.PortSets, t.Journeys
	ix.crown = make([]bool, len(crown))
	for i, c := range crown {
		ix.crown[i] = c != 0
	}
	if err := ix.check(); err != nil {
		return nil, err
	}
	return ix, nil
}

// check verifies the invariants traversal relies on.
func (ix *Index) check() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrIndexFormat, what) }
	if len(ix.idOff) == 0 {
		return bad("no nodes table")
	}
	n := len(ix.idOff) - 1
	m := len(ix.fwdDst)
	if len(ix.kind) != n || len(ix.crown) != n || len(ix.runsOn) != n || len(ix.resOff) != n+1 ||
		len(ix.fwdOff) != n+1 || len(ix.revOff) != n+1 || len(ix.portOf) != m || len(ix.revSrc) != m || len(ix.revSlot) != m {
		return bad("array lengths disagree")
	}
	if int(ix.idOff[n]) != len(ix.idData) || int(ix.fwdOff[n]) != m || int(ix.revOff[n]) != m || int(ix.resOff[n]) != len(ix.res) {
		return bad("offsets do not cover their arrays")
	}
	for i := 0; i < n; i++ {
		if ix.idOff[i] > ix.idOff[i+1] || ix.fwdOff[i] > ix.fwdOff[i+1] || ix.revOff[i] > ix.revOff[i+1] || ix.resOff[i] > ix.resOff[i+1] {
			return bad("offsets not monotonic")
		}
		if ix.runsOn[i] < -1 || int(ix.runsOn[i]) >= n || int(ix.kind[i]) >= len(Kinds) {
			return bad("node attribute out of range")
		}
	}
	for _, v := range ix.fwdDst {
		if v < 0 || int(v) >= n {
			return bad("edge target out of range")
		}
	}
	for i, v := range ix.revSrc {
		if v < 0 || int(v) >= n || ix.revSlot[i] < -1 || int(ix.revSlot[i]) >= len(ix.slotInfo) {
			return bad("reverse entry out of range")
		}
	}
	for _, v := range ix.res {
		if v < 0 || int(v) >= n {
			return bad("resident out of range")
		}
	}
	for _, p := range ix.portOf {
		if int(p) >= len(ix.portSets) {
			return bad("port set out of range")
		}
	}
	for _, j := range ix.journeys {
		for _, s := range j.Steps {
			for _, d := range s.Nodes() {
				if d < 0 || int(d) >= n {
					return bad("journey node out of range")
				}
			}
		}
	}
	return nil
}

// Nodes returns every node a compiled step names.
func (s CStep) Nodes() []int32 {
	out := append([]int32(nil), s.Requires...)
	for _, alt := range s.AnyOf {
		out = append(out, alt...)
	}
	return out
}

// MemoryBytes is the size of the index's arrays: what it costs to hold.
func (ix *Index) MemoryBytes() int64 {
	b := int64(len(ix.idData)) + 4*int64(len(ix.idOff)+len(ix.runsOn)+len(ix.resOff)+len(ix.res)+
		len(ix.fwdOff)+len(ix.fwdDst)+len(ix.portOf)+len(ix.revOff)+len(ix.revSrc)+len(ix.revSlot)) +
		2*int64(len(ix.slotInfo)) + int64(len(ix.kind)+len(ix.crown))
	return b
}

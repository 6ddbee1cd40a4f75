package simulate

import "github.com/firebreak/firebreak/graph"

// scratch is the per-run working memory, reused across runs so that a run
// costs what it touches rather than what the whole estate holds: marks are
// epoch stamps (no clearing), and the masks remember which bits they set.
type scratch struct {
	epoch uint32

	reached []uint32 // epoch when reached by compromise
	hops    []int32
	parent  []int32

	failed []uint32 // epoch when failed
	degr   []uint32 // epoch when degraded
	soft   []uint32 // epoch when a soft slot went down (degraded candidate)
	cause  []int32  // node that caused the failure/degradation, -1 for seeds
	reason []Reason

	slotEpoch []uint32
	slotLeft  []int32

	timeEpoch []uint32 // epoch when a time was found
	settled   []uint32 // epoch when the time became final
	time      []int64  // earliest compromise time, seconds
	tparent   []int32  // predecessor on the earliest path
	heap      minHeap

	quar    touchedBits // effective quarantine (quarantined + residents)
	blocked touchedBits // blocked edges

	queue    []int32
	reachBuf []Reach
}

func newScratch(ix *graph.Index) *scratch {
	n, m, s := ix.Len(), ix.EdgeCount(), ix.SlotCount()
	return &scratch{
		reached:   make([]uint32, n),
		hops:      make([]int32, n),
		parent:    make([]int32, n),
		failed:    make([]uint32, n),
		degr:      make([]uint32, n),
		soft:      make([]uint32, n),
		cause:     make([]int32, n),
		reason:    make([]Reason, n),
		slotEpoch: make([]uint32, s),
		timeEpoch: make([]uint32, n),
		settled:   make([]uint32, n),
		time:      make([]int64, n),
		tparent:   make([]int32, n),
		slotLeft:  make([]int32, s),
		quar:      newTouchedBits(n),
		blocked:   newTouchedBits(m),
	}
}

func (sc *scratch) begin() {
	sc.epoch++
	if sc.epoch == 0 { // wrapped: stale stamps could collide, so clear once
		clear(sc.reached)
		clear(sc.failed)
		clear(sc.degr)
		clear(sc.soft)
		clear(sc.slotEpoch)
		clear(sc.timeEpoch)
		clear(sc.settled)
		sc.epoch = 1
	}
	sc.queue = sc.queue[:0]
}

func (sc *scratch) end() {
	sc.quar.reset()
	sc.blocked.reset()
}

func (sc *scratch) isReached(d int32) bool  { return sc.reached[d] == sc.epoch }
func (sc *scratch) isFailed(d int32) bool   { return sc.failed[d] == sc.epoch }
func (sc *scratch) isDegraded(d int32) bool { return sc.degr[d] == sc.epoch }

// slotDown decrements slot s's live-member count and reports whether it just
// reached zero.
func (sc *scratch) slotDown(ix *graph.Index, s int32) bool {
	if sc.slotEpoch[s] != sc.epoch {
		sc.slotEpoch[s] = sc.epoch
		sc.slotLeft[s] = ix.SlotSize(s)
	}
	sc.slotLeft[s]--
	return sc.slotLeft[s] == 0
}

// touchedBits is a bitset that remembers the words it dirtied, so resetting it
// costs the bits set, not its size.
type touchedBits struct {
	words   []uint64
	touched []int32
}

func newTouchedBits(n int) touchedBits { return touchedBits{words: make([]uint64, (n+63)/64)} }

func (b *touchedBits) set(i int32) {
	w := &b.words[i>>6]
	if *w == 0 {
		b.touched = append(b.touched, i>>6)
	}
	*w |= 1 << (uint(i) & 63)
}

func (b *touchedBits) has(i int32) bool { return b.words[i>>6]&(1<<(uint(i)&63)) != 0 }

func (b *touchedBits) any() bool { return len(b.touched) > 0 }

func (b *touchedBits) reset() {
	for _, w := range b.touched {
		b.words[w] = 0
	}
	b.touched = b.touched[:0]
}

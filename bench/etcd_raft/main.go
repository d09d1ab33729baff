// etcd_raft: the same workloads as bench/raft_bench.cc, on etcd's Go raft (v3.4, from
// Debian's golang-etcd-server-dev), so both cores are measured on one machine in one run.
// Built and run by bench/compare_etcd_raft.sh; not part of the Bazel build.
package main

import (
	"fmt"
	"io/ioutil"
	"log"
	"testing"

	"go.etcd.io/etcd/raft"
	pb "go.etcd.io/etcd/raft/raftpb"
)

const payloadBytes = 128

type node struct {
	storage *raft.MemoryStorage
	rn      *raft.RawNode
	applied uint64
}

func newNode(id uint64, peers []uint64) *node {
	s := raft.NewMemoryStorage()
	rn, err := raft.NewRawNode(&raft.Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         s,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 4096,
		Logger:          &raft.DefaultLogger{Logger: log.New(ioutil.Discard, "", 0)},
	})
	if err != nil {
		panic(err)
	}
	var ps []raft.Peer
	for _, p := range peers {
		ps = append(ps, raft.Peer{ID: p})
	}
	if err := rn.Bootstrap(ps); err != nil {
		panic(err)
	}
	return &node{storage: s, rn: rn}
}

// handle persists to memory, hands messages to out, applies and advances: the same loop as
// the C++ benchmark's BenchNode::Handle.
func (n *node) handle(out *[]pb.Message) {
	rd := n.rn.Ready()
	if !raft.IsEmptySnap(rd.Snapshot) {
		n.storage.ApplySnapshot(rd.Snapshot)
	}
	n.storage.Append(rd.Entries)
	if !raft.IsEmptyHardState(rd.HardState) {
		n.storage.SetHardState(rd.HardState)
	}
	*out = append(*out, rd.Messages...)
	for _, e := range rd.CommittedEntries {
		if e.Type == pb.EntryConfChange {
			var cc pb.ConfChange
			cc.Unmarshal(e.Data)
			n.rn.ApplyConfChange(cc)
		}
	}
	n.applied += uint64(len(rd.CommittedEntries))
	n.rn.Advance(rd)
}

func (n *node) maybeCompact() {
	applied := n.rn.Status().Applied
	first, _ := n.storage.FirstIndex()
	if applied > first+100000 {
		n.storage.Compact(applied - 1000)
	}
}

func singleVoter(b *testing.B) {
	n := newNode(1, []uint64{1})
	var sink []pb.Message
	for n.rn.HasReady() {
		n.handle(&sink)
	}
	n.rn.Campaign()
	for n.rn.HasReady() {
		n.handle(&sink)
	}
	payload := make([]byte, payloadBytes)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.rn.Propose(payload)
		n.handle(&sink)
		sink = sink[:0]
		if i&0xffff == 0xffff {
			n.maybeCompact()
		}
	}
}

func threeVoters(batch int) func(b *testing.B) {
	return func(b *testing.B) {
		nodes := map[uint64]*node{}
		for id := uint64(1); id <= 3; id++ {
			nodes[id] = newNode(id, []uint64{1, 2, 3})
		}
		var network, delivering []pb.Message
		drive := func() {
			for round := 0; round < 1000; round++ {
				moved := false
				for id := uint64(1); id <= 3; id++ {
					if nodes[id].rn.HasReady() {
						nodes[id].handle(&network)
						moved = true
					}
				}
				delivering, network = network, delivering[:0]
				for _, m := range delivering {
					nodes[m.To].rn.Step(m)
					moved = true
				}
				if !moved {
					return
				}
			}
		}
		drive()
		nodes[1].rn.Campaign()
		drive()
		payload := make([]byte, payloadBytes)
		b.ReportAllocs()
		b.ResetTimer()
		entries := 0
		for i := 0; i < b.N; i++ {
			for k := 0; k < batch; k++ {
				nodes[1].rn.Propose(payload)
			}
			drive()
			entries += batch
			if entries&0xffff < batch {
				for _, n := range nodes {
					n.maybeCompact()
				}
			}
		}
	}
}

func report(name string, perOp int, r testing.BenchmarkResult) {
	nsPerEntry := float64(r.T.Nanoseconds()) / float64(r.N) / float64(perOp)
	allocs := float64(r.MemAllocs) / float64(r.N) / float64(perOp)
	fmt.Printf("%-40s %10.0f ns/entry %8.2f allocs/entry\n", name, nsPerEntry, allocs)
}

func main() {
	report("etcd/SingleVoterProposeReadyAdvance", 1, testing.Benchmark(singleVoter))
	for _, batch := range []int{1, 16, 64} {
		report(fmt.Sprintf("etcd/ThreeVoterCommit/%d", batch), batch,
			testing.Benchmark(threeVoters(batch)))
	}
}

// go_bench: the Go half of ttrpc_bench — containerd's own ttrpc (Debian's
// golang-github-containerd-ttrpc-dev, 1.1.1), a client calling a server over
// one unix socket, both in this process, as ttrpc_bench does with berth's
// ttrpc. ttrpc_bench builds it offline in GOPATH mode and parses its output;
// it computes the percentiles itself, so both sides are summarised alike.
//
//	go_bench <socket> <calls> <callers> <payload-bytes>
//
// Service "berth.bench.v1.Bench", method Echo(BytesValue) BytesValue (a gogo
// well-known wrapper type, so no generated code is needed). Two runs of
// <calls> calls each on the one connection: "serial" (one caller after the
// other) and "concurrent" (<callers> goroutines sharing the client). Prints,
// per run,
//
//	lat <run> <µs>                 one line per call
//	wall <run> <calls> <µs>        calls done and the run's wall time
//
// and "error <text>" (exit 1) on the first failure.
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
)

const service = "berth.bench.v1.Bench"

func serve(l net.Listener) (*ttrpc.Server, error) {
	s, err := ttrpc.NewServer(ttrpc.WithServerHandshaker(ttrpc.UnixSocketRequireSameUser()))
	if err != nil {
		return nil, err
	}
	s.Register(service, map[string]ttrpc.Method{
		"Echo": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req types.BytesValue
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return &types.BytesValue{Value: req.Value}, nil
		},
	})
	go s.Serve(context.Background(), l)
	return s, nil
}

func echo(c *ttrpc.Client, payload []byte) error {
	var resp types.BytesValue
	if err := c.Call(context.Background(), service, "Echo", &types.BytesValue{Value: payload}, &resp); err != nil {
		return err
	}
	if !bytes.Equal(resp.Value, payload) {
		return fmt.Errorf("echo returned %d bytes, sent %d", len(resp.Value), len(payload))
	}
	return nil
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// run makes `calls` calls from `callers` goroutines; latencies in µs and the
// wall time.
func run(c *ttrpc.Client, payload []byte, calls, callers int) ([]float64, time.Duration, error) {
	lat := make([]float64, calls)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < calls; i += callers {
				t := time.Now()
				if err := echo(c, payload); err != nil {
					errs <- err
					return
				}
				lat[i] = micros(time.Since(t))
			}
		}(g)
	}
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	for err := range errs {
		return nil, 0, err
	}
	return lat, wall, nil
}

func bench(path string, calls, callers, size int) error {
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	s, err := serve(l)
	if err != nil {
		return err
	}
	defer s.Close()
	conn, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	c := ttrpc.NewClient(conn)
	defer c.Close()

	payload := bytes.Repeat([]byte{'b'}, size)
	if _, _, err := run(c, payload, 200, 1); err != nil { // warm up
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, r := range []struct {
		name    string
		callers int
	}{{"serial", 1}, {"concurrent", callers}} {
		lat, wall, err := run(c, payload, calls, r.callers)
		if err != nil {
			return err
		}
		for _, v := range lat {
			fmt.Fprintf(out, "lat %s %.3f\n", r.name, v)
		}
		fmt.Fprintf(out, "wall %s %d %.3f\n", r.name, calls, micros(wall))
	}
	return nil
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: go_bench <socket> <calls> <callers> <payload-bytes>")
		os.Exit(2)
	}
	var nums [3]int
	for i := range nums {
		n, err := strconv.Atoi(os.Args[2+i])
		if err != nil || n < 0 || (i < 2 && n == 0) {
			fmt.Fprintf(os.Stderr, "bad number %q\n", os.Args[2+i])
			os.Exit(2)
		}
		nums[i] = n
	}
	if err := bench(os.Args[1], nums[0], nums[1], nums[2]); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
}

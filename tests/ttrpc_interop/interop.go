// Interop peer for berth's ttrpc: containerd's own ttrpc (Debian's
// golang-github-containerd-ttrpc-dev, 1.1.1) as server or client of the
// service "berth.interop.v1.Interop", built offline in GOPATH mode.
//
//	interop server <socket>   serve; print READY once listening
//	interop client <socket>   run the checks against a server; print
//	                          "ok <check>" each, exit 1 on the first failure
//
// Methods (gogo well-known wrapper types, so no generated code is needed):
//
//	Echo(BytesValue) BytesValue         the same bytes
//	Fail(StringValue "<code>:<msg>")    a status error with that gRPC code and message
//	Meta(BytesValue) StringValue        "ns=<containerd-namespace-ttrpc>;multi=<values of multi, comma-joined>"
//	Deadline(BytesValue) Int64Value     milliseconds left until the deadline, -1 if none
//	Sleep(Int64Value ms) Int64Value     waits ms, or until 500 ms past the deadline; 1 if the deadline came first
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const service = "berth.interop.v1.Interop"

func serve(path string) error {
	s, err := ttrpc.NewServer(ttrpc.WithServerHandshaker(ttrpc.UnixSocketRequireSameUser()))
	if err != nil {
		return err
	}
	s.Register(service, map[string]ttrpc.Method{
		"Echo": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req types.BytesValue
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return &types.BytesValue{Value: req.Value}, nil
		},
		"Fail": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req types.StringValue
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			parts := strings.SplitN(req.Value, ":", 2)
			code, _ := strconv.Atoi(parts[0])
			return nil, status.Error(codes.Code(code), parts[1])
		},
		"Meta": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			md, _ := ttrpc.GetMetadata(ctx)
			ns, _ := ttrpc.GetMetadataValue(ctx, "containerd-namespace-ttrpc")
			multi, _ := md.Get("multi")
			return &types.StringValue{Value: "ns=" + ns + ";multi=" + strings.Join(multi, ",")}, nil
		},
		"Deadline": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			dl, ok := ctx.Deadline()
			if !ok {
				return &types.Int64Value{Value: -1}, nil
			}
			return &types.Int64Value{Value: time.Until(dl).Milliseconds()}, nil
		},
		"Sleep": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req types.Int64Value
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			select {
			case <-time.After(time.Duration(req.Value) * time.Millisecond):
				return &types.Int64Value{Value: 0}, nil
			case <-ctx.Done():
				// Answer well after the deadline, so that the client's own
				// timeout is what the caller sees, not a race with this answer.
				time.Sleep(500 * time.Millisecond)
				return &types.Int64Value{Value: 1}, nil
			}
		},
	})
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	fmt.Println("READY")
	return s.Serve(context.Background(), l)
}

type check struct {
	name string
	run  func(c *ttrpc.Client) error
}

func echo(ctx context.Context, c *ttrpc.Client, p []byte) ([]byte, error) {
	var resp types.BytesValue
	err := c.Call(ctx, service, "Echo", &types.BytesValue{Value: p}, &resp)
	return resp.Value, err
}

func wantCode(err error, code codes.Code, contains string) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("want a status error %v, got %v", code, err)
	}
	if st.Code() != code || !strings.Contains(st.Message(), contains) {
		return fmt.Errorf("want %v containing %q, got %v %q", code, contains, st.Code(), st.Message())
	}
	return nil
}

var checks = []check{
	{"echo", func(c *ttrpc.Client) error {
		got, err := echo(context.Background(), c, []byte("hello"))
		if err != nil || string(got) != "hello" {
			return fmt.Errorf("got %q, %v", got, err)
		}
		return nil
	}},
	{"echo_3mib", func(c *ttrpc.Client) error {
		want := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16)
		got, err := echo(context.Background(), c, want)
		if err != nil || !bytes.Equal(got, want) {
			return fmt.Errorf("got %d bytes, %v", len(got), err)
		}
		return nil
	}},
	{"oversized", func(c *ttrpc.Client) error {
		_, err := echo(context.Background(), c, make([]byte, 5<<20))
		if err := wantCode(err, codes.ResourceExhausted, "maximum message size"); err != nil {
			return err
		}
		// The connection survives.
		got, err := echo(context.Background(), c, []byte("after"))
		if err != nil || string(got) != "after" {
			return fmt.Errorf("after oversized: %q, %v", got, err)
		}
		return nil
	}},
	{"error_not_found", func(c *ttrpc.Client) error {
		var resp types.StringValue
		err := c.Call(context.Background(), service, "Fail", &types.StringValue{Value: "5:thing x"}, &resp)
		return wantCode(err, codes.NotFound, "thing x")
	}},
	{"error_already_exists", func(c *ttrpc.Client) error {
		var resp types.StringValue
		err := c.Call(context.Background(), service, "Fail", &types.StringValue{Value: "6:dup"}, &resp)
		return wantCode(err, codes.AlreadyExists, "dup")
	}},
	{"unknown_method", func(c *ttrpc.Client) error {
		var resp types.BytesValue
		err := c.Call(context.Background(), service, "Nope", &types.BytesValue{}, &resp)
		return wantCode(err, codes.Unimplemented, "Nope")
	}},
	{"metadata", func(c *ttrpc.Client) error {
		md := ttrpc.MD{}
		md.Set("containerd-namespace-ttrpc", "ns1")
		md.Set("multi", "a", "b")
		ctx := ttrpc.WithMetadata(context.Background(), md)
		var resp types.StringValue
		if err := c.Call(ctx, service, "Meta", &types.BytesValue{}, &resp); err != nil {
			return err
		}
		if resp.Value != "ns=ns1;multi=a,b" {
			return fmt.Errorf("got %q", resp.Value)
		}
		return nil
	}},
	{"deadline_seen", func(c *ttrpc.Client) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var resp types.Int64Value
		if err := c.Call(ctx, service, "Deadline", &types.BytesValue{}, &resp); err != nil {
			return err
		}
		if resp.Value <= 5000 || resp.Value > 10000 {
			return fmt.Errorf("server saw %d ms left", resp.Value)
		}
		var none types.Int64Value
		if err := c.Call(context.Background(), service, "Deadline", &types.BytesValue{}, &none); err != nil {
			return err
		}
		if none.Value != -1 {
			return fmt.Errorf("server saw a deadline without one: %d", none.Value)
		}
		return nil
	}},
	{"deadline_exceeded", func(c *ttrpc.Client) error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		var resp types.Int64Value
		err := c.Call(ctx, service, "Sleep", &types.Int64Value{Value: 20000}, &resp)
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("want deadline exceeded, got %v", err)
		}
		return nil
	}},
	{"concurrent_50", func(c *ttrpc.Client) error {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				want := []byte(fmt.Sprintf("call-%d", i))
				got, err := echo(context.Background(), c, want)
				if err != nil || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("call %d: %q, %v", i, got, err)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			return err
		}
		return nil
	}},
}

func runClient(path string) error {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	c := ttrpc.NewClient(conn)
	defer c.Close()
	for _, ch := range checks {
		if err := ch.run(c); err != nil {
			return fmt.Errorf("FAIL %s: %w", ch.name, err)
		}
		fmt.Println("ok", ch.name)
	}
	return nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: interop server|client <socket>")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = serve(os.Args[2])
	case "client":
		err = runClient(os.Args[2])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
}

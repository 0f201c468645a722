package server

import (
	"errors"
	"net/netip"
	"testing"
)

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700:4700::1111": true,
		"127.0.0.1": false, "127.255.0.9": false, "::1": false, "0.0.0.0": false, "::": false,
		"10.0.0.1": false, "172.16.5.4": false, "192.168.0.1": false, "fd00::1": false,
		"169.254.169.254": false, "fe80::1": false, "100.64.0.1": false,
		"224.0.0.1": false, "ff02::1": false, "255.255.255.255": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:8.8.8.8": true,
		"64:ff9b::7f00:1": false, "2002:7f00:1::": false, "198.18.0.1": false,
		// IPv6 outside 2000::/3 or in its special-purpose ranges.
		"::7f00:1": false, "::8.8.8.8": false, "::ffff:0:7f00:1": false, "::ffff:0:808:808": false,
		"5f00::1": false, "2001:2::1": false, "3fff::1": false, "2001:db8::1": false, "4000::1": false,
		"2001:20::1": false, "2a00:1450:4001::200e": true,
	} {
		if got := PublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestDialControlChecksThePeer: the dialer's Control hook, which sees the
// address the socket really connects to, refuses non-public ones whatever
// resolved them (DNS rebinding, redirects).
func TestDialControlChecksThePeer(t *testing.T) {
	t.Parallel()
	f := &URLFetcher{}
	for _, addr := range []string{"127.0.0.1:80", "[::1]:443", "10.0.0.1:80", "[::ffff:127.0.0.1]:80", "169.254.169.254:80"} {
		if err := f.control("tcp", addr, nil); !errors.Is(err, errLocalAddress) {
			t.Errorf("control(%s) = %v, want errLocalAddress", addr, err)
		}
	}
	if err := f.control("tcp4", "8.8.8.8:443", nil); err != nil {
		t.Errorf("control(8.8.8.8:443) = %v", err)
	}
}

package server

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/sdapi/sdapi/processing/imagemeta"
)

// Fetching input images by URL (A1111's api_enable_requests) is off unless
// the server is started with --api-enable-requests. Even then a fetch never
// reaches a loopback, link-local, private or otherwise non-public address:
// every address the host resolves to is checked before dialing, the dial
// goes to the checked addresses only (no second lookup a rebinding DNS
// server could answer differently), and the dialer's Control hook checks
// the socket's actual peer address again, which also covers redirects.

var (
	// errLocalAddress is a URL whose host is, or resolves to, an address
	// the fetcher must not reach.
	errLocalAddress = errors.New("address is not public")
	// errTooLarge is a response body over URLFetcher.MaxBytes.
	errTooLarge = errors.New("response too large")
)

// Resolver looks up a host's addresses; *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// URLFetcher fetches http(s) input images for --api-enable-requests. The
// zero value is usable: the system resolver, public addresses only, and
// the default limits.
type URLFetcher struct {
	// Resolver resolves host names; nil is net.DefaultResolver.
	Resolver Resolver
	// AllowAddr says whether an address may be dialed; nil is PublicAddr.
	// Tests widen it to reach an httptest server on loopback.
	AllowAddr func(netip.Addr) bool
	// MaxBytes bounds the response body; 0 is DefaultFetchMaxBytes.
	MaxBytes int64
	// Timeout bounds the whole fetch, redirects included; 0 is
	// DefaultFetchTimeout (A1111's requests.get(timeout=30)).
	Timeout time.Duration
}

const (
	// DefaultFetchMaxBytes bounds a fetched image: 50 MiB.
	DefaultFetchMaxBytes = 50 << 20
	// DefaultFetchTimeout bounds one fetch.
	DefaultFetchTimeout = 30 * time.Second
	// maxRedirects is net/http's own limit, stated so it is visible.
	maxRedirects = 10
)

// nonPublic are special-purpose ranges (RFC 6890 and successors) that
// netip's predicates do not cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: embeds any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds any IPv4 address
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2001:2::/48"),     // benchmarking
	netip.MustParsePrefix("2001:10::/28"),    // ORCHID (deprecated)
	netip.MustParsePrefix("2001:20::/28"),    // ORCHIDv2
	netip.MustParsePrefix("3fff::/20"),       // documentation (RFC 9637)
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}

// globalUnicast6 is the only IPv6 space IANA allocates for global unicast
// (RFC 4291 §2.4); everything else is reserved or special-purpose,
// including ::/96 (IPv4-compatible), ::ffff:0:0:0/96 (IPv4-translated),
// 5f00::/16 (SRv6 SIDs) and ranges added after netip's predicates.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// PublicAddr reports whether a is a global unicast address outside every
// private, loopback, link-local and special-purpose range. An IPv4-mapped
// address is judged as the IPv4 address it is; any other IPv6 address
// must be in 2000::/3.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() ||
		a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	if a.Is6() && !globalUnicast6.Contains(a) {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

func (f *URLFetcher) allowed(a netip.Addr) bool {
	if f.AllowAddr != nil {
		return f.AllowAddr(a.Unmap())
	}
	return PublicAddr(a)
}

// Fetch GETs rawURL and returns its body, at most MaxBytes of it. A
// userAgent that is not empty is sent as the User-Agent header.
func (f *URLFetcher) Fetch(ctx context.Context, rawURL, userAgent string) ([]byte, error) {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	limit := f.MaxBytes
	if limit <= 0 {
		limit = DefaultFetchMaxBytes
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, fmt.Errorf("fetch: scheme %q", req.URL.Scheme)
	}
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	client := &http.Client{
		Transport: &http.Transport{
			// No proxy: a proxy would make the dial check see the proxy's
			// address, not the one the request reaches.
			Proxy:                  nil,
			DialContext:            f.dialContext,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return errors.New("too many redirects")
			}
			if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
				return fmt.Errorf("redirect to scheme %q", r.URL.Scheme)
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch: status %d", resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("fetch: %d bytes: %w", resp.ContentLength, errTooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("fetch: over %d bytes: %w", limit, errTooLarge)
	}
	return body, nil
}

// dialContext resolves addr's host, refuses it unless every address is
// allowed, and dials those addresses only.
func (f *URLFetcher) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := f.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if !f.allowed(ip) {
			return nil, fmt.Errorf("%s (%s): %w", host, ip, errLocalAddress)
		}
	}
	d := net.Dialer{Control: f.control}
	var errs []error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (f *URLFetcher) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	var r Resolver = net.DefaultResolver
	if f.Resolver != nil {
		r = f.Resolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	return ips, nil
}

// control checks the address a socket is about to connect to: the last
// word, whatever resolved it.
func (f *URLFetcher) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if !f.allowed(ap.Addr()) {
		return fmt.Errorf("dial %s: %w", address, errLocalAddress)
	}
	return nil
}

// isURL reports whether an input image field is an http(s) URL, as A1111's
// decode_base64_to_image tests it.
func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// inputBytes returns the encoded image of an input field that is a URL,
// fetched under the rules of --api-enable-requests, with A1111's answers:
// 500 "Requests not allowed" without the flag, "Request to local resource
// not allowed" for a non-public address, "Invalid image url" when the
// fetch fails. Why a fetch failed is logged, never sent.
func (s *Server) inputBytes(ctx context.Context, rawURL string) ([]byte, error) {
	if !s.cfg.EnableRequests {
		return nil, httpException(http.StatusInternalServerError, "Requests not allowed")
	}
	f := s.cfg.Fetcher
	if f == nil {
		f = &URLFetcher{}
	}
	// A1111's api_useragent option (settable only in the settings file).
	raw, err := f.Fetch(ctx, rawURL, s.deps.Options.String("api_useragent"))
	switch {
	case errors.Is(err, errLocalAddress):
		return nil, httpException(http.StatusInternalServerError, "Request to local resource not allowed")
	case err != nil:
		s.log.Warn("input image fetch failed", "err", err)
		return nil, httpException(http.StatusInternalServerError, "Invalid image url")
	}
	return raw, nil
}

// inputRaw returns the encoded image of an input field (init_images,
// mask, extras and png-info images): base64 or a data: URI decoded, or
// (with --api-enable-requests) an http(s) URL fetched.
func (s *Server) inputRaw(ctx context.Context, str string) ([]byte, error) {
	if isURL(str) {
		return s.inputBytes(ctx, str)
	}
	raw, err := imagemeta.DecodeDataURI(str)
	if err != nil {
		return nil, httpException(http.StatusInternalServerError, "Invalid encoded image")
	}
	return raw, nil
}

// decodeInput is A1111's decode_base64_to_image for every input image
// field: inputRaw, then decodeImageBytes.
func (s *Server) decodeInput(ctx context.Context, str string, loc ...any) (image.Image, error) {
	raw, err := s.inputRaw(ctx, str)
	if err != nil {
		return nil, err
	}
	invalid := "Invalid encoded image"
	if isURL(str) {
		invalid = "Invalid image url"
	}
	return decodeImageBytes(raw, s.cfg.Limits, invalid, loc...)
}

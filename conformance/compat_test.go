package conformance

import (
	"os"
	"strings"
	"testing"
)

func TestExpectFollowsTheProfile(t *testing.T) {
	for _, tc := range []struct {
		profile, id string
		want        Expectation
	}{
		{"a1111", "SEED-001", ExpectPass},
		{"a1111", "REF-001", ExpectReferenceOnly},
		{"reference", "REF-001", ExpectPass},
		{"koboldcpp", "PROG-001", ExpectPass},          // a missing route is a route claim, not an n/a
		{"koboldcpp", "INFO-001", ExpectNotApplicable}, // by label
		{"koboldcpp", "TXT2IMG-005", ExpectNotApplicable},
		{"sdcpp", "SEED-004", ExpectDivergence},
		{"sdcpp", "INFO-002", ExpectPass}, // sd.cpp writes a parameters chunk
		{"forge", "ERR-008", ExpectDivergence},
		{"a1111-1.9", "TXT2IMG-006", ExpectDivergence},
	} {
		got, why := Profiles[tc.profile].Expect(requirement(tc.id))
		if got != tc.want {
			t.Errorf("%s %s: got %s (%s), want %s", tc.profile, tc.id, got, why, tc.want)
		}
		if got != ExpectPass && why == "" {
			t.Errorf("%s %s: %s without a reason", tc.profile, tc.id, got)
		}
	}
}

// The README's profile listing is the one `sdapi-conform --profiles` prints.
func TestREADMEProfileListingIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if listing := ProfileListing(); !strings.Contains(string(readme), listing) {
		t.Errorf("README.md lacks the current profile listing; regenerate it with `make readme-profiles` (go run ./cmd/sdapi-conform --profiles):\n%s", listing)
	}
}

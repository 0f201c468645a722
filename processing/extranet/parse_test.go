package extranet

import (
	"reflect"
	"testing"
)

func TestParsePrompts(t *testing.T) {
	tests := []struct {
		name    string
		prompts []string
		want    []string
		uses    []LoraUse
		wantErr bool
	}{
		{"plain", []string{"a cat"}, []string{"a cat"}, nil, false},
		{"weight", []string{"a <lora:test:0.8> cat"}, []string{"a  cat"}, []LoraUse{{Name: "test", TE: 0.8, UNet: 0.8}}, false},
		{"default", []string{"<lora:test>cat"}, []string{"cat"}, []LoraUse{{Name: "test", TE: 1, UNet: 1}}, false},
		{"te and unet", []string{"<lora:a:0.5:0.25>"}, []string{""}, []LoraUse{{Name: "a", TE: 0.5, UNet: 0.25}}, false},
		{"named", []string{"<lora:a:unet=0.3:te=0.7:dyn=4>"}, []string{""}, []LoraUse{{Name: "a", TE: 0.7, UNet: 0.3, DynDim: 4}}, false},
		{"dyn positional", []string{"<lora:a:1:2:8>"}, []string{""}, []LoraUse{{Name: "a", TE: 1, UNet: 2, DynDim: 8}}, false},
		// The batch takes the first prompt's networks; every prompt loses its tags.
		{"batch", []string{"x <lora:a:1>", "y <lora:b:1>"}, []string{"x ", "y "}, []LoraUse{{Name: "a", TE: 1, UNet: 1}}, false},
		{"two", []string{"<lora:a:1><lora:b:0.5>"}, []string{""}, []LoraUse{{Name: "a", TE: 1, UNet: 1}, {Name: "b", TE: 0.5, UNet: 0.5}}, false},
		{"other network kept apart", []string{"<hypernet:h:1> z"}, []string{" z"}, nil, false},
		{"no name", []string{"<lora:te=1>"}, []string{""}, nil, true},
		{"bad number", []string{"<lora:a:x>"}, []string{""}, nil, true},
		{"unicode network name", []string{"<lóra:a:1>"}, []string{""}, nil, false},
		{"unclosed", []string{"<lora:a:1"}, []string{"<lora:a:1"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, data := ParsePrompts(tt.prompts)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("prompts = %q, want %q", got, tt.want)
			}
			uses, err := LoraUses(data["lora"])
			if (err != nil) != tt.wantErr {
				t.Fatalf("LoraUses err = %v, want error %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(uses, tt.uses) {
				t.Fatalf("uses = %+v, want %+v", uses, tt.uses)
			}
		})
	}
}

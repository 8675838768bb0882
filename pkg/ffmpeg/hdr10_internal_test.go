package ffmpeg

import "testing"

// The encoders' notations of the same mastering display (BT.2020
// primaries, D65, 1000 and 0.005 cd/m²): x265's integers in 0.00002 and
// 0.0001 cd/m² units, SVT-AV1's plain numbers.
func TestHDR10Notations(t *testing.T) {
	m := &HDR10{Red: [2]float64{0.68, 0.32}, Green: [2]float64{0.265, 0.69}, Blue: [2]float64{0.15, 0.06}, White: [2]float64{0.3127, 0.329},
		MaxLuminance: 1000, MinLuminance: 0.005, MaxCLL: 1000, MaxFALL: 400}
	if got, want := m.x265Display(), "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)"; got != want {
		t.Errorf("x265: %s, want %s", got, want)
	}
	if got, want := m.svtDisplay(), "G(0.2650,0.6900)B(0.1500,0.0600)R(0.6800,0.3200)WP(0.3127,0.3290)L(1000.0000,0.0050)"; got != want {
		t.Errorf("SVT-AV1: %s, want %s", got, want)
	}
	if !m.HasDisplay() || !m.HasLight() || (*HDR10)(nil).HasDisplay() || (&HDR10{}).HasLight() {
		t.Error("HasDisplay/HasLight")
	}
}

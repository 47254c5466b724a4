package httpchantest

import "testing"

func TestRepliesArePlayedInOrderPerRecipientThenAccepted(t *testing.T) {
	var s Script[int]
	s.Add("a", 1, 2)
	s.Add("a", 3)
	s.Always("b", 9)
	for i, want := range []int{1, 2, 3} {
		if got, ok := s.Next("a"); !ok || got != want {
			t.Fatalf("reply %d for a = %d, %v; want %d", i, got, ok, want)
		}
	}
	if got, ok := s.Next("a"); ok {
		t.Fatalf("a's fourth request got %d, want it accepted", got)
	}
	for range 2 {
		if got, ok := s.Next("b"); !ok || got != 9 {
			t.Fatalf("b = %d, %v; want 9 every time", got, ok)
		}
	}
	if _, ok := s.Next("c"); ok {
		t.Fatal("a recipient without a script got a reply")
	}
}

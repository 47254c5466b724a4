package store

import "testing"

// TestAnAnswerOfAnotherShapeIsAnError: each script's answer is decoded with its shape
// checked; what does not fit is an error, never a zero value.
func TestAnAnswerOfAnotherShapeIsAnError(t *testing.T) {
	r := Reservation{Windows: []Window{{Counter: "all", Limit: 1}}}
	cases := []struct {
		name string
		err  error
	}{
		{"a full window that is not a number", func() error {
			_, err := decodeReserved([]any{"capped", "", "", "", "", "", "one"}, r)
			return err
		}()},
		{"a full window past the reservation's", func() error {
			_, err := decodeReserved([]any{"capped", "", "", "", "", "", "2"}, r)
			return err
		}()},
		{"a reservation answer too short", func() error {
			_, err := decodeReserved([]any{"ok"}, r)
			return err
		}()},
		{"an enrol outcome that is a string", func() error {
			_, _, err := decodeEnrolled([]any{"1", ""})
			return err
		}()},
		{"an enrol outcome out of range", func() error {
			_, _, err := decodeEnrolled([]any{int64(7), ""})
			return err
		}()},
		{"a commit answer of one element", func() error {
			_, err := decodeCommitted([]any{int64(1)})
			return err
		}()},
		{"a move out of range", func() error {
			_, err := decodeMoved(int64(3))
			return err
		}()},
		{"an answer standing that is nil", func() error {
			_, err := decodeAnswered([]any{nil, "", "", ""})
			return err
		}()},
		{"an apply answer without its flag", func() error {
			_, err := applied([]string{"email", `"a@x"`}, nil)
			return err
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil {
				t.Fatal("decoded without an error")
			}
		})
	}
	if res, err := decodeReserved([]any{"capped", "", "", "", "", "", "1"}, r); err != nil || res.Full != r.Windows[0] {
		t.Fatalf("a good answer = %+v, %v", res, err)
	}
}

package signing

import "testing"

func TestKeysOfOnePurposeRefuseTokensOfAnother(t *testing.T) {
	unsub, fb := NewKey("a-long-enough-secret", ""), NewKey("a-long-enough-secret", "feedback")
	tok := fb.Sign("c-42", "ru")
	if f, err := fb.Verify(tok, 2); err != nil || f[0] != "c-42" || f[1] != "ru" {
		t.Fatalf("Verify(own token) = %v, %v", f, err)
	}
	for name, c := range map[string]struct {
		key   *Key
		token string
		n     int
	}{
		"another purpose":         {unsub, tok, 2},
		"another purpose's token": {fb, unsub.Sign("c-42", "ru"), 2},
		"another secret":          {fb, NewKey("another-long-secret", "feedback").Sign("c-42", "ru"), 2},
		"the wrong field count":   {fb, tok, 3},
		"an empty field":          {fb, fb.Sign("c-42", ""), 2},
		"no signature":            {fb, "YWJj", 1},
	} {
		if _, err := c.key.Verify(c.token, c.n); err != ErrInvalid {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}
